"""Local HTTP servers that implement the parts of the ESP APIs the adapters use, with faults."""
