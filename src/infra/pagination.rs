//! Page-based lists: `?page=1&pageSize=20` (pageSize at most 100) answered as
//! `{ items, total, page, pageSize }`.

use serde::{Deserialize, Serialize};

use crate::infra::error::{ApiResult, Validator};

/// Largest page.
pub const MAX_PAGE_SIZE: i64 = 100;

/// The page asked for.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// Items per page (default 20, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// 1-based page.
    pub page: i64,
    /// Items per page.
    pub page_size: i64,
}

impl Paging {
    /// Rows to skip (saturating: a page far past the end is simply empty).
    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.page_size)
    }

    /// Rows to take.
    pub fn limit(self) -> i64 {
        self.page_size
    }
}

/// A case-insensitive `LIKE` pattern matching `q` anywhere (`%` and `_` in `q` match themselves);
/// `None` for an absent or blank search. Compare it against `lower(column)`.
pub fn contains_pattern(q: Option<&str>) -> Option<String> {
    let q = q.map(str::trim).filter(|q| !q.is_empty())?;
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Some(format!("%{escaped}%"))
}

impl PageQuery {
    /// Validates `?page` and `?pageSize` taken from a larger query.
    pub fn validate(page: Option<i64>, page_size: Option<i64>) -> ApiResult<Paging> {
        Self { page, page_size }.paging()
    }

    /// Validates (page ≥ 1, 1 ≤ pageSize ≤ 100).
    pub fn paging(self) -> ApiResult<Paging> {
        let page = self.page.unwrap_or(1);
        let page_size = self.page_size.unwrap_or(20);
        let mut v = Validator::new();
        v.check(page >= 1, "page", "must be 1 or more");
        v.check(
            (1..=MAX_PAGE_SIZE).contains(&page_size),
            "pageSize",
            "must be between 1 and 100",
        );
        v.finish()?;
        Ok(Paging { page, page_size })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items in the whole list.
    pub total: i64,
    /// This page's number.
    pub page: i64,
    /// Items per page.
    pub page_size: i64,
}

impl<T> Page<T> {
    /// A page from rows and the list's total.
    pub fn new(items: Vec<T>, total: i64, paging: Paging) -> Self {
        Self {
            items,
            total,
            page: paging.page,
            page_size: paging.page_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{PageQuery, contains_pattern};

    #[test]
    fn a_page_far_past_the_end_does_not_overflow_the_offset() {
        let paging = PageQuery::validate(Some(i64::MAX), Some(100)).expect("valid");
        assert_eq!(paging.offset(), i64::MAX);
        assert_eq!(
            PageQuery::validate(Some(3), Some(20))
                .expect("valid")
                .offset(),
            40
        );
    }

    #[test]
    fn search_patterns_are_lowercase_trimmed_and_escaped() {
        assert_eq!(contains_pattern(None), None);
        assert_eq!(contains_pattern(Some("   ")), None);
        assert_eq!(
            contains_pattern(Some(" Dupont ")).as_deref(),
            Some("%dupont%")
        );
        assert_eq!(
            contains_pattern(Some("50%_a\\b")).as_deref(),
            Some("%50\\%\\_a\\\\b%")
        );
    }
}
