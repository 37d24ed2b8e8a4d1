"""Seeds shared by scenarios and tools (bulk rows through `bench.bulk`)."""
