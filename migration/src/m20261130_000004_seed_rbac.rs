//! Migration 4: seeds the default RBAC data — the system roles `super_admin`, `admin` and
//! `user`, the built-in permissions, and which role grants which.
//!
//! Row ids are derived from the role or permission name ([`seed_id`]), so every database
//! (every node of a cluster, every test) gets the same ids for the same seed rows.
//! `down` deletes exactly these rows, and any assignment that refers to them.

use sea_orm_migration::prelude::*;

use crate::m20261130_000001_create_identity::{Permissions, RolePermissions, Roles, UserRoles};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The seeded system roles: (name, display name, description).
pub const DEFAULT_ROLES: &[(&str, &str, &str)] = &[
    (
        "super_admin",
        "Super administrator",
        "Every permission, including signing keys and deletion of roles and permissions",
    ),
    (
        "admin",
        "Administrator",
        "Administers users, clients and audit logs; cannot delete roles or permissions nor manage signing keys",
    ),
    (
        "user",
        "User",
        "Regular end user; no administrative permission",
    ),
];

/// The seeded permissions: (name, display name). Names starting with `menu:` are in the
/// `menu` category, the rest in `api`; `resource` is the name up to its last `:` and
/// `action` the part after it.
pub const DEFAULT_PERMISSIONS: &[(&str, &str)] = &[
    ("users:list", "List users"),
    ("users:create", "Create users"),
    ("users:update", "Update users"),
    ("users:delete", "Delete users"),
    ("roles:list", "List roles"),
    ("roles:create", "Create roles"),
    ("roles:update", "Update roles"),
    ("roles:delete", "Delete roles"),
    ("permissions:list", "List permissions"),
    ("permissions:create", "Create permissions"),
    ("permissions:update", "Update permissions"),
    ("permissions:delete", "Delete permissions"),
    ("clients:list", "List OAuth clients"),
    ("clients:create", "Create OAuth clients"),
    ("clients:update", "Update OAuth clients"),
    ("clients:delete", "Delete OAuth clients"),
    ("clients:secret:regenerate", "Regenerate client secrets"),
    ("audit:list", "List audit logs"),
    ("system:config", "Manage system configuration"),
    ("system:keys", "Manage signing keys"),
    ("system:sessions", "Manage user sessions"),
    ("menu:dashboard", "Console menu: dashboard"),
    ("menu:users", "Console menu: users"),
    ("menu:roles", "Console menu: roles"),
    ("menu:permissions", "Console menu: permissions"),
    ("menu:clients", "Console menu: clients"),
    ("menu:audit", "Console menu: audit logs"),
    ("menu:system", "Console menu: system"),
];

/// Permissions withheld from `admin` (it gets every other one).
pub const ADMIN_EXCLUDED: &[&str] = &["roles:delete", "permissions:delete", "system:keys"];

/// Whether the seeded role `role` is granted the seeded permission `permission`.
pub fn role_grants(role: &str, permission: &str) -> bool {
    match role {
        "super_admin" => true,
        "admin" => !ADMIN_EXCLUDED.contains(&permission),
        _ => false,
    }
}

/// Splits a permission name into (category, resource, action).
pub fn permission_parts(name: &str) -> (&'static str, &str, &str) {
    let category = if name.starts_with("menu:") {
        "menu"
    } else {
        "api"
    };
    let (resource, action) = name.rsplit_once(':').unwrap_or((name, name));
    (category, resource, action)
}

/// A stable UUID-formatted id for a seed row: the 128-bit FNV-1a hash of
/// `tessera:<kind>:<name>`, stamped as an RFC 9562 version-8 (custom) UUID.
/// `kind` is `role` or `permission`.
pub fn seed_id(kind: &str, name: &str) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut h = OFFSET;
    for b in "tessera:"
        .bytes()
        .chain(kind.bytes())
        .chain(":".bytes())
        .chain(name.bytes())
    {
        h ^= u128::from(b);
        h = h.wrapping_mul(PRIME);
    }
    // Version 8 in bits 48..52 (from the top), variant 0b10 in bits 64..66.
    h = (h & !(0xF << 76)) | (0x8 << 76);
    h = (h & !(0x3 << 62)) | (0x2 << 62);
    let s = format!("{h:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &s[0..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let now = chrono::Utc::now();

        let mut roles = Query::insert();
        roles.into_table(Roles::Table).columns([
            Roles::Id,
            Roles::Name,
            Roles::DisplayName,
            Roles::Description,
            Roles::IsSystem,
            Roles::IsActive,
            Roles::CreatedAt,
            Roles::UpdatedAt,
        ]);
        for (name, display, description) in DEFAULT_ROLES {
            roles.values_panic([
                seed_id("role", name).into(),
                (*name).into(),
                (*display).into(),
                (*description).into(),
                true.into(),
                true.into(),
                now.into(),
                now.into(),
            ]);
        }
        manager.execute(roles).await?;

        let mut perms = Query::insert();
        perms.into_table(Permissions::Table).columns([
            Permissions::Id,
            Permissions::Name,
            Permissions::DisplayName,
            Permissions::Description,
            Permissions::Category,
            Permissions::Resource,
            Permissions::Action,
            Permissions::IsActive,
            Permissions::CreatedAt,
            Permissions::UpdatedAt,
        ]);
        for (name, display) in DEFAULT_PERMISSIONS {
            let (category, resource, action) = permission_parts(name);
            perms.values_panic([
                seed_id("permission", name).into(),
                (*name).into(),
                (*display).into(),
                Option::<String>::None.into(),
                category.into(),
                resource.into(),
                action.into(),
                true.into(),
                now.into(),
                now.into(),
            ]);
        }
        manager.execute(perms).await?;

        let mut grants = Query::insert();
        grants.into_table(RolePermissions::Table).columns([
            RolePermissions::RoleId,
            RolePermissions::PermissionId,
            RolePermissions::CreatedAt,
        ]);
        let mut any = false;
        for (role, _, _) in DEFAULT_ROLES {
            for (perm, _) in DEFAULT_PERMISSIONS {
                if role_grants(role, perm) {
                    any = true;
                    grants.values_panic([
                        seed_id("role", role).into(),
                        seed_id("permission", perm).into(),
                        now.into(),
                    ]);
                }
            }
        }
        if any {
            manager.execute(grants).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let role_names = DEFAULT_ROLES.iter().map(|(n, _, _)| *n);
        let perm_names = DEFAULT_PERMISSIONS.iter().map(|(n, _)| *n);
        let seeded_roles = Query::select()
            .column(Roles::Id)
            .from(Roles::Table)
            .and_where(Expr::col(Roles::Name).is_in(role_names.clone()))
            .to_owned();
        let seeded_perms = Query::select()
            .column(Permissions::Id)
            .from(Permissions::Table)
            .and_where(Expr::col(Permissions::Name).is_in(perm_names.clone()))
            .to_owned();

        // Explicit deletes rather than relying on ON DELETE CASCADE, which SQLite only honours
        // with PRAGMA foreign_keys=ON.
        manager
            .execute(
                Query::delete()
                    .from_table(UserRoles::Table)
                    .and_where(Expr::col(UserRoles::RoleId).in_subquery(seeded_roles.clone()))
                    .to_owned(),
            )
            .await?;
        manager
            .execute(
                Query::delete()
                    .from_table(RolePermissions::Table)
                    .cond_where(
                        Cond::any()
                            .add(Expr::col(RolePermissions::RoleId).in_subquery(seeded_roles))
                            .add(
                                Expr::col(RolePermissions::PermissionId).in_subquery(seeded_perms),
                            ),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .execute(
                Query::delete()
                    .from_table(Roles::Table)
                    .and_where(Expr::col(Roles::Name).is_in(role_names))
                    .to_owned(),
            )
            .await?;
        manager
            .execute(
                Query::delete()
                    .from_table(Permissions::Table)
                    .and_where(Expr::col(Permissions::Name).is_in(perm_names))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ids_are_stable_v8_uuids() {
        let id = seed_id("role", "super_admin");
        assert_eq!(id, seed_id("role", "super_admin"));
        assert_ne!(id, seed_id("permission", "super_admin"));
        assert_eq!(id.len(), 36);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'), "version 8: {id}");
        assert!(
            matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
            "RFC variant: {id}"
        );
        let mut all: Vec<String> = DEFAULT_ROLES
            .iter()
            .map(|(n, _, _)| seed_id("role", n))
            .chain(
                DEFAULT_PERMISSIONS
                    .iter()
                    .map(|(n, _)| seed_id("permission", n)),
            )
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "seed ids must be unique");
    }

    #[test]
    fn permission_parts_split_on_last_colon() {
        assert_eq!(permission_parts("users:list"), ("api", "users", "list"));
        assert_eq!(
            permission_parts("clients:secret:regenerate"),
            ("api", "clients:secret", "regenerate")
        );
        assert_eq!(
            permission_parts("menu:dashboard"),
            ("menu", "menu", "dashboard")
        );
    }

    #[test]
    fn admin_lacks_only_the_excluded_permissions() {
        let denied: Vec<&str> = DEFAULT_PERMISSIONS
            .iter()
            .map(|(n, _)| *n)
            .filter(|p| !role_grants("admin", p))
            .collect();
        assert_eq!(
            denied,
            ["roles:delete", "permissions:delete", "system:keys"]
        );
        assert!(
            DEFAULT_PERMISSIONS
                .iter()
                .all(|(n, _)| role_grants("super_admin", n))
        );
        assert!(
            DEFAULT_PERMISSIONS
                .iter()
                .all(|(n, _)| !role_grants("user", n))
        );
    }
}
