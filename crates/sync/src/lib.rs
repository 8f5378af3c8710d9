//! erpbridge-sync (not built yet)
