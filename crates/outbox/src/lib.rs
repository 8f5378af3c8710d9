//! erpbridge-outbox (not built yet)
