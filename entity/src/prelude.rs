//! Re-exports of every entity under its table's name in CamelCase (`Users`, `Roles`, ...).

pub use super::access_tokens::Entity as AccessTokens;
pub use super::audit_logs::Entity as AuditLogs;
pub use super::authorization_codes::Entity as AuthorizationCodes;
pub use super::consents::Entity as Consents;
pub use super::oauth_clients::Entity as OauthClients;
pub use super::permissions::Entity as Permissions;
pub use super::refresh_tokens::Entity as RefreshTokens;
pub use super::role_permissions::Entity as RolePermissions;
pub use super::roles::Entity as Roles;
pub use super::sessions::Entity as Sessions;
pub use super::user_roles::Entity as UserRoles;
pub use super::users::Entity as Users;
