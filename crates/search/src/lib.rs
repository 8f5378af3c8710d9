//! erpbridge-search (not built yet)
