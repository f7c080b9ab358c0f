"""Use cases. One public function per use case: it checks permission, changes state, writes the
audit event and commits once. Called by the web layer, the API and the CLI alike; no Flask here."""
