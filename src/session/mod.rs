//! Sessions: plantdb's session managers (opaque ids and JWTs) and apicrud's encrypted sessions.

mod apicrud;
mod jwt;
mod jwt_keys;
mod manager;
mod store;

pub use apicrud::ApicrudSessions;
pub use jwt::{Datasets, JwtSessionManager, JwtSettings, JwtUser, Permission, SessionRef, TokenPair};
pub use manager::{NoAuth, NoAuthSessionManager, SessionInfo, SessionManager, SingleSessionManager, NO_AUTH_ADMIN};
pub use store::{SessionLimits, WhenFull};
