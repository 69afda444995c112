// Wrapper module: builds the kwok controller (sigs.k8s.io/kwok/cmd/kwok), which
// stands in for kubelets on the rehearsal cluster's nodes.
module forumops.test/rehearsal/kwok

go 1.26.0

require sigs.k8s.io/kwok v0.8.0
