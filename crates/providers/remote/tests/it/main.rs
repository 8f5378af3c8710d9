//! Integration tests of the gRPC provider protocol (real sockets on 127.0.0.1).
