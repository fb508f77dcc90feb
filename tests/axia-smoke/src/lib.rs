//! Smoke tests for the test services; the checks are this crate's integration tests (`tests/it`).
