//! `POST /api/employees/import`: a CSV of employees (`text/csv` body, or multipart field `file`).
//! Header names are case-insensitive, French ones accepted (`prenom`, `nom`, `departement`,
//! `poste`); UTF-8 with or without BOM; `,` or `;`. Idempotent on email: a known employee is
//! updated or left unchanged. Rows with errors are reported and skipped; the others are applied —
//! all in one transaction, rolled back when `dryRun=true`. At most 10,000 rows and 5 MiB (413).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::infra::audit::Action;
use crate::infra::auth::Auth;
use crate::infra::auth::HrAdmin;
use crate::infra::error::{ApiError, ApiResult, FieldError, OrNotFound, looks_like_email};
use crate::infra::extract::{ApiQuery, FormUpload};
use crate::infra::jobs::enqueue_mails;
use crate::infra::mail::MailKind;
use crate::infra::sessions::ClientMeta;

/// Largest file.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// Most data rows.
pub const MAX_ROWS: usize = 10_000;
/// Rows a dry run checks at most (413 beyond).
pub const DRY_RUN_MAX_ROWS: usize = 1_000;

/// Import options.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Validate and count only; nothing is written.
    pub dry_run: Option<bool>,
}

/// What the import did (or, with `dryRun`, would do).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// One entry per problem; those rows were not applied.
    pub errors: Vec<LineError>,
    pub dry_run: bool,
}

/// A problem on one line of the file (the header is line 1).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct LineError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

/// A valid row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub department: Option<String>,
    pub position: Option<String>,
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request.too_large",
        format!(
            "An import holds at most {MAX_ROWS} rows and {} MiB.",
            MAX_BYTES / 1024 / 1024
        ),
    )
}

/// The CSV bytes, from a `text/csv` body or the multipart field `file`.
#[derive(Debug)]
pub struct CsvUpload(pub Vec<u8>);

impl<S: Send + Sync> FromRequest<S> for CsvUpload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let bytes = if content_type.starts_with("multipart/form-data") {
            FormUpload::read(req, state, "the CSV", too_large)
                .await?
                .bytes
        } else if ["text/csv", "application/csv", "text/plain"]
            .iter()
            .any(|t| content_type.starts_with(t))
        {
            axum::body::Bytes::from_request(req, state)
                .await
                .map_err(crate::infra::extract::body_rejection)?
                .to_vec()
        } else {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.unsupported_media_type",
                "Send the CSV as `text/csv`, or as the field `file` of `multipart/form-data`.",
            ));
        };
        if bytes.len() > MAX_BYTES {
            return Err(too_large());
        }
        Ok(CsvUpload(bytes))
    }
}

/// Which column a header names.
fn column(header: &str) -> Option<&'static str> {
    let key: String = header
        .trim()
        .to_lowercase()
        .replace(['é', 'è', 'ê'], "e")
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    Some(match key.as_str() {
        "email" | "mail" | "courriel" | "adresseemail" => "email",
        "firstname" | "prenom" => "firstName",
        "lastname" | "nom" | "nomdefamille" => "lastName",
        "department" | "departement" | "service" => "department",
        "position" | "poste" | "fonction" | "jobtitle" => "position",
        _ => return None,
    })
}

/// Parses the file into valid rows and line errors. A file that cannot be read as a table at all
/// (not UTF-8, missing columns) is a 422; over `MAX_ROWS` rows a 413.
pub fn parse(bytes: &[u8]) -> Result<(Vec<Row>, Vec<LineError>), ApiError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::invalid_field("file", "the file must be UTF-8 text"))?;
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| ApiError::invalid_field("file", "the header row cannot be read"))?
        .clone();
    let columns: HashMap<&'static str, usize> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| column(h).map(|c| (c, i)))
        .collect();
    let missing: Vec<FieldError> = ["email", "firstName", "lastName"]
        .iter()
        .filter(|c| !columns.contains_key(*c))
        .map(|c| FieldError {
            field: "file".to_owned(),
            message: format!(
                "the header row has no `{c}` column (expected email,firstName,lastName,department,position)"
            ),
        })
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::validation(missing));
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        if index >= MAX_ROWS {
            return Err(too_large());
        }
        let line = index as u64 + 2;
        let record = match record {
            Ok(record) => record,
            Err(_) => {
                errors.push(LineError {
                    line,
                    field: "line".to_owned(),
                    message: "cannot be read as CSV".to_owned(),
                });
                continue;
            }
        };
        let line = record.position().map_or(line, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let get = |name: &str| {
            columns
                .get(name)
                .and_then(|&i| record.get(i))
                .map(str::trim)
                .unwrap_or("")
        };
        let mut row_errors = Vec::new();
        let email = get("email").to_lowercase();
        if !looks_like_email(&email) {
            row_errors.push(("email", "must be a valid email address".to_owned()));
        } else if let Some(first) = seen.get(&email) {
            row_errors.push((
                "email",
                format!("appears twice in the file (first on line {first})"),
            ));
        }
        for (field, max) in [
            ("firstName", 100),
            ("lastName", 100),
            ("department", 100),
            ("position", 100),
        ] {
            let value = get(field);
            if matches!(field, "firstName" | "lastName") && value.is_empty() {
                row_errors.push((field, "is required".to_owned()));
            } else if value.chars().count() > max {
                row_errors.push((field, format!("must have at most {max} characters")));
            }
        }
        if row_errors.is_empty() {
            seen.insert(email.clone(), line);
            let optional = |v: &str| (!v.is_empty()).then(|| v.to_owned());
            rows.push(Row {
                line,
                email,
                first_name: get("firstName").to_owned(),
                last_name: get("lastName").to_owned(),
                department: optional(get("department")),
                position: optional(get("position")),
            });
        } else {
            errors.extend(row_errors.into_iter().map(|(field, message)| LineError {
                line,
                field: field.to_owned(),
                message,
            }));
        }
    }
    Ok((rows, errors))
}

#[derive(Debug, sqlx::FromRow)]
struct Existing {
    id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    department: Option<String>,
    position: Option<String>,
    removed: bool,
}

/// Import employees from CSV.
#[utoipa::path(post, path = "/employees/import", tag = "employees", security(("bearer" = [])), params(ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 413, body = crate::infra::error::Problem),
              (status = 415, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn import_employees(
    client: ClientMeta,
    mut auth: Auth<HrAdmin>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    CsvUpload(bytes): CsvUpload,
) -> ApiResult<Json<ImportReport>> {
    let company_id = auth
        .principal
        .company_id
        .or_not_found("company.not_found")?;
    let dry_run = query.dry_run.unwrap_or(false);
    let (rows, mut errors) = parse(&bytes)?;
    if dry_run && rows.len() > DRY_RUN_MAX_ROWS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "import.dry_run_too_large",
            format!("A dry run checks at most {DRY_RUN_MAX_ROWS} rows; split the file."),
        ));
    }
    // Only the company's own domains are looked at: an import cannot probe other addresses.
    let domains = super::model::company_domains(&mut auth.tx, company_id).await?;
    let (rows, outside): (Vec<Row>, Vec<Row>) = rows
        .into_iter()
        .partition(|r| super::model::in_domains(&r.email, &domains));
    errors.extend(outside.into_iter().map(|r| LineError {
        line: r.line,
        field: "email".to_owned(),
        message: super::model::outside_domains(&domains),
    }));
    if dry_run {
        // Everything below is undone; the audit row after it stays.
        sqlx::raw_sql("SAVEPOINT import_dry_run")
            .execute(&mut *auth.tx)
            .await?;
    }
    let emails: Vec<&str> = rows.iter().map(|r| r.email.as_str()).collect();
    let existing: HashMap<String, Existing> = sqlx::query_as!(
        Existing,
        r#"SELECT e.id, lower(u.email) AS "email!", e.first_name, e.last_name, e.department,
             e.position, e.removed_at IS NOT NULL AS "removed!"
           FROM employees e
           JOIN users u ON u.id = e.user_id
           WHERE e.company_id = $1 AND lower(u.email) = ANY($2)"#,
        company_id,
        &emails as _
    )
    .fetch_all(&mut *auth.tx)
    .await?
    .into_iter()
    .map(|e| (e.email.clone(), e))
    .collect();

    let (mut unchanged, mut updates, mut fresh) = (0usize, Vec::new(), Vec::new());
    for row in rows {
        match existing.get(&row.email) {
            Some(e) if e.removed => errors.push(LineError {
                line: row.line,
                field: "email".to_owned(),
                message: "this employee was removed from the company".to_owned(),
            }),
            Some(e)
                if e.first_name == row.first_name
                    && e.last_name == row.last_name
                    && e.department == row.department
                    && e.position == row.position =>
            {
                unchanged += 1;
            }
            Some(e) => updates.push((e.id, row)),
            None => fresh.push(row),
        }
    }

    // The batch counterpart of `people::accounts::users::create_user`: one statement for every new
    // row of the file (addresses already taken were set aside above), after unverified
    // self-registrations of those addresses gave way.
    let fresh_emails: Vec<String> = fresh.iter().map(|r| r.email.clone()).collect();
    sqlx::query_scalar!(
        r#"SELECT count(*) FILTER (WHERE release_unverified_registration(e)) AS "released!"
           FROM unnest($1::text[]) AS t(e)"#,
        &fresh_emails
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    let created_users: Vec<(Uuid, String)> = sqlx::query!(
        r#"INSERT INTO users (email, role, company_id) SELECT email, 'EMPLOYEE', $2
           FROM unnest($1::text[]) AS t(email)
           ON CONFLICT DO NOTHING
           RETURNING id AS "id!", email AS "email!""#,
        &fresh_emails,
        company_id
    )
    .map(|r| (r.id, r.email))
    .fetch_all(&mut *auth.tx)
    .await?;
    let user_of: HashMap<&str, Uuid> = created_users
        .iter()
        .map(|(id, email)| (email.as_str(), *id))
        .collect();
    let (mut created, mut invited) = (Vec::new(), Vec::new());
    for row in &fresh {
        match user_of.get(row.email.as_str()) {
            Some(&user_id) => {
                invited.push(user_id);
                created.push((user_id, row));
            }
            None => errors.push(LineError {
                line: row.line,
                field: "email".to_owned(),
                message: "another account already uses this email".to_owned(),
            }),
        }
    }
    sqlx::query!(
        r#"INSERT INTO employees (user_id, company_id, first_name, last_name, department, position) SELECT u,
             $2, f, l, d, p
           FROM unnest($1::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) AS t(u, f, l, d, p)"#,
        &created.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        company_id,
        &created.iter().map(|(_, r)| r.first_name.clone()).collect::<Vec<_>>(),
        &created.iter().map(|(_, r)| r.last_name.clone()).collect::<Vec<_>>(),
        created.iter().map(|(_, r)| r.department.clone()).collect::<Vec<Option<String>>>() as _,
        created.iter().map(|(_, r)| r.position.clone()).collect::<Vec<Option<String>>>() as _
    )
    .execute(&mut *auth.tx)
    .await?;
    sqlx::query!(
        r#"UPDATE employees e SET first_name = t.f, last_name = t.l, department = t.d,
             position = t.p
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(id, f, l, d, p)
           WHERE e.id = t.id"#,
        &updates.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        &updates.iter().map(|(_, r)| r.first_name.clone()).collect::<Vec<_>>(),
        &updates.iter().map(|(_, r)| r.last_name.clone()).collect::<Vec<_>>(),
        updates.iter().map(|(_, r)| r.department.clone()).collect::<Vec<Option<String>>>() as _,
        updates.iter().map(|(_, r)| r.position.clone()).collect::<Vec<Option<String>>>() as _
    )
    .execute(&mut *auth.tx)
    .await?;
    enqueue_mails(&mut auth.tx, MailKind::Invitation, &invited).await?;
    errors.sort_by_key(|e| e.line);
    let report = ImportReport {
        created: created.len(),
        updated: updates.len(),
        unchanged,
        errors,
        dry_run,
    };
    if dry_run {
        sqlx::raw_sql("ROLLBACK TO SAVEPOINT import_dry_run")
            .execute(&mut *auth.tx)
            .await?;
    }
    // Counts only, never an address.
    auth.audit(
        &client,
        Action::Import,
        "employee",
        None,
        Some(serde_json::json!({
            "dryRun": dry_run, "rows": report.created + report.updated + report.unchanged + report.errors.len(),
            "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "errors": report.errors.len()
        })),
    )
    .await?;
    auth.commit().await?;
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_headers_bom_semicolons_and_line_errors() {
        let csv = "\u{feff}Prénom;Nom;Email;Département;Poste\nMarc;Dupont;marc@acme.fr;Ventes;Commercial\n\
                   ;Martin;anne@acme.fr;;\nLéa;Durand;not-an-email;;\nMarc;Dupont;MARC@acme.fr;;\n";
        let (rows, errors) = parse(csv.as_bytes()).expect("parse");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].first_name, "Marc");
        assert_eq!(rows[0].department.as_deref(), Some("Ventes"));
        assert_eq!(
            errors
                .iter()
                .map(|e| (e.line, e.field.as_str()))
                .collect::<Vec<_>>(),
            vec![(3, "firstName"), (4, "email"), (5, "email")]
        );
    }

    #[test]
    fn missing_columns_and_size_limits() {
        assert!(parse(b"email,nom\nx@y.fr,Z\n").is_err());
        let mut big = String::from("email,firstName,lastName\n");
        for i in 0..=MAX_ROWS {
            big.push_str(&format!("u{i}@acme.fr,A,B\n"));
        }
        assert_eq!(
            parse(big.as_bytes()).err().map(|e| e.status()),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
    }
}
