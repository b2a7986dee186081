//! Placeholder: the async client driver (being written).
