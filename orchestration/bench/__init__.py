"""The pipeline benchmark (`lifecycle bench`, `make bench`)."""
