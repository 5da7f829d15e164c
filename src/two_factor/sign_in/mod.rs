//! The sign-in orchestrator: which second factor a sign-in needs
//! (`policy`, one rule for the login forms and the API), checking a code of
//! any factor with one outcome type (`verify`), and the pages between a
//! completed sign-in and where it was going (`after`).

pub mod after;
pub mod policy;
pub mod verify;
