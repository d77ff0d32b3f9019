//! Write generations: a per-table counter in this process, bumped after every insert, update or
//! delete made through the table's `ActiveModel`, so in-process read caches can drop what they
//! hold. Writes that bypass `ActiveModel` (`update_many`, `delete_by_id`) call
//! `bump_generation()` themselves.

/// Defines `generation()`, `bump_generation()` and an `ActiveModelBehavior` that bumps it, in the
/// entity module it is invoked in.
#[macro_export]
macro_rules! write_generation {
    () => {
        static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

        /// The current write generation of this table in this process.
        pub fn generation() -> u64 {
            GENERATION.load(std::sync::atomic::Ordering::Acquire)
        }

        /// Marks every cached row of this table stale.
        pub fn bump_generation() {
            GENERATION.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }

        #[async_trait::async_trait]
        impl ActiveModelBehavior for ActiveModel {
            async fn after_save<C>(model: Model, _db: &C, _insert: bool) -> Result<Model, DbErr>
            where
                C: ConnectionTrait,
            {
                bump_generation();
                Ok(model)
            }

            async fn after_delete<C>(self, _db: &C) -> Result<Self, DbErr>
            where
                C: ConnectionTrait,
            {
                bump_generation();
                Ok(self)
            }
        }
    };
}
