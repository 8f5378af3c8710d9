//! The runtime that hosts providers. (being built)
