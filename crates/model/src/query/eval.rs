//! Evaluation of filters over JSON records. (being built)
