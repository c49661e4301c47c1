"""Publishing audiences: the sync engine, its recorded state, and the adapters it sends to."""
