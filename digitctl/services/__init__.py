"""One module per DIGIT building block. Each operation declares its DIGIT action URL and passes
through `access.authorize` before it touches the store."""
