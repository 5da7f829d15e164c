//! The sign-in orchestrator: which second factor a sign-in needs
//! (`policy`, one rule for the login forms and the API), checking a code of
//! any factor with one outcome type (`verify`), what the code pages say
//! after a wrong code (`wrong_code`) and carry across their redirects
//! (`flash`), the sign-in a step page works on (`held`), and the pages between a completed sign-in and where it was
//! going (`after`).

pub mod after;
pub mod flash;
pub mod held;
pub mod policy;
pub mod verify;
pub mod wrong_code;
