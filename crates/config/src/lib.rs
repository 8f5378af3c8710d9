//! erpbridge-config (not built yet)
