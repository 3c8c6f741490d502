"""Developer tools (not part of the library): code generators, doc writers, measurement helpers."""
