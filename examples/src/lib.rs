//! Runnable examples and bench binaries for VIVIM: see `examples/examples/`.
