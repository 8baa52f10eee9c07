"""Guards around the private attributes of dependencies: one module per library.

Each module checks at import that what it relies on is still there and unchanged (the release it
was written against), logs once when not, and then uses the library's public API instead. A test
per module (``tests/compat/``) fails when a check does, so a release that moves things is seen in
CI before users see the slower path.
"""
