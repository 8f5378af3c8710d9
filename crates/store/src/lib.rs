//! erpbridge-store (not built yet)
