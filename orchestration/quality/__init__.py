"""Quality gates: row rules and quarantine at load, suites validated as blocking checks."""
