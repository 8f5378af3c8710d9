//! erpbridge-sim (not built yet)
