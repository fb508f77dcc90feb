//! Architecture checks for the axia workspace. The checks are this crate's integration tests
//! (`tests/it`); the library only carries the README's examples as doc tests, so the README
//! stays true.

#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
