//! Skeleton; see README.
