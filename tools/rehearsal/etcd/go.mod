// Wrapper module: builds the etcd server (package main at the root of
// go.etcd.io/etcd/server/v3). Upstream's go.mod points its sibling modules at
// ../api etc.; replaces of a dependency are ignored, so the published
// releases of the same version are used instead.
module forumops.test/rehearsal/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 v3.6.16
