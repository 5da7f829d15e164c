//! The one integration-test binary: every module talks HTTP to real servers
//! on loopback.

mod helpers;
mod sandbox;
mod sandbox_api;
mod sandbox_admin;
