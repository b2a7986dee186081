//! Placeholder: ServiceAudience (being written).
