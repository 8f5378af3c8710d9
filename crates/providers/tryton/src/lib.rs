//! erpbridge-tryton (not built yet)
