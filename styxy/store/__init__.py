"""The files on disk and the lock: paths of the sidecar, bounded reads, atomic writes,
the lease file, the compiled cache, the journal, the document view, the one transaction.
Never chooses a port."""
