//! Seeding helpers for tests that need a company, its people and a consultation: rows are written
//! as the owner (bypassing RLS), users get the shared test password.

use huntzen::infra::identity::Role;
use uuid::Uuid;

use crate::helpers::TestApp;

impl TestApp {
    /// Opens every day of the week of `token`'s practitioner, 09:00–12:00 in their zone, with
    /// 60-minute slots (through the API, as the practitioner would).
    pub async fn open_mornings(&self, token: &str) {
        for day in 0..7 {
            let created = self
                .post(
                    "/api/availability",
                    Some(token),
                    serde_json::json!({ "dayOfWeek": day, "startTime": "09:00", "endTime": "12:00", "slotDuration": 60 }),
                )
                .await;
            assert_eq!(
                created.status,
                axum::http::StatusCode::CREATED,
                "{}",
                created.body
            );
        }
    }

    /// An active company named `slug` whose email domain is `{slug}.test`.
    pub async fn seed_company(&self, slug: &str) -> Uuid {
        sqlx::query_scalar(
            "INSERT INTO companies (name, slug, domain, is_active) VALUES ($1, $1, $1 || '.test', true) RETURNING id",
        )
        .bind(slug)
        .fetch_one(&self.db().system)
        .await
        .expect("seed company")
    }

    /// An employee user `email` of `company` with its employee profile; returns the employee id.
    pub async fn seed_employee(&self, email: &str, company: Uuid, first_name: &str) -> Uuid {
        let user = self.create_user(email, Role::Employee, Some(company)).await;
        sqlx::query_scalar(
            "INSERT INTO employees (user_id, company_id, first_name, last_name) VALUES ($1, $2, $3, 'E') RETURNING id",
        )
        .bind(user)
        .bind(company)
        .bind(first_name)
        .fetch_one(&self.db().system)
        .await
        .expect("seed employee")
    }

    /// A validated practitioner user `email` with its profile; returns the practitioner id.
    pub async fn seed_practitioner(&self, email: &str, first_name: &str) -> Uuid {
        let user = self.create_user(email, Role::Practitioner, None).await;
        sqlx::query_scalar(
            "INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, is_validated) \
             VALUES ($1, $2, 'P', 'Dr.', 'PSYCHIATRE', true) RETURNING id",
        )
        .bind(user)
        .bind(first_name)
        .fetch_one(&self.db().system)
        .await
        .expect("seed practitioner")
    }

    /// A consultation `days_ahead` days from now in `format` and `status`; returns its id.
    pub async fn seed_consultation(
        &self,
        people: Participants,
        format: &str,
        status: &str,
        days_ahead: i32,
    ) -> Uuid {
        sqlx::query_scalar(
            "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, format, status) \
             VALUES ($1, $2, $3, now() + make_interval(days => $4), $5::consultation_format, $6::consultation_status) \
             RETURNING id",
        )
        .bind(people.company)
        .bind(people.employee)
        .bind(people.practitioner)
        .bind(days_ahead)
        .bind(format)
        .bind(status)
        .fetch_one(&self.db().system)
        .await
        .expect("seed consultation")
    }
}

/// Who a seeded consultation is between.
#[derive(Clone, Copy)]
pub struct Participants {
    pub company: Uuid,
    pub employee: Uuid,
    pub practitioner: Uuid,
}
