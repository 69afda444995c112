"""The rehearsal cluster tool behind tools/rehearsal/rehearsal, one module per concern:

    common      settings (environment variables), the state directory, shared helpers
    versions    versions.env and the operator pins read from preflight.py
    build       go build of the binaries, cached by version; `pin` of the wrapper modules
    pki         the private CA, certificates and the kubeconfig
    processes   command lines, start, health, PID files and stop of the cluster's processes
    kube        kubectl against the cluster
    crds        the operators' CRDs from the Go module zips
    bootstrap   what `up` applies to a fresh cluster, the inventory overlay, `reclaim`
    cli         the commands and their exit codes

Python 3 standard library only: it must run on a fresh machine before any venv exists.
"""
