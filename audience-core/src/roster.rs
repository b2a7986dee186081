//! Placeholder: the roster state machine (being written).
