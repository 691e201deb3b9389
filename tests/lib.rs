//! End-to-end tests of lpdnn-host live in `tests/`; this crate has no library code.
