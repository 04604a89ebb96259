//! `GET /api/resources/crisis`: crisis lines to call now, per country, public (no account needed:
//! the person in distress may not be able to sign in). A fixed list, reviewed by hand.

use axum::Json;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::infra::error::{ApiError, ApiResult};
use crate::infra::extract::ApiQuery;
use crate::infra::state::AppState;

/// Which country's lines.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrisisQuery {
    /// ISO 3166-1 alpha-2 code (default `FR`). A country without its own list gets the European
    /// emergency number.
    pub country: Option<String>,
}

/// One line.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrisisLine {
    /// `suicide_prevention`, `emergency`, `listening` or `deaf` (text or video for deaf people).
    pub kind: &'static str,
    /// Name of the service.
    pub name: &'static str,
    /// Number to dial.
    pub phone: &'static str,
    /// What it is for, in the reader's language.
    pub description: &'static str,
    /// Free to call.
    pub free: bool,
    /// Open 24 hours a day, 7 days a week.
    pub always_open: bool,
}

/// Crisis lines of a country.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrisisLines {
    /// The country asked for.
    pub country: String,
    /// Whether that country has its own list (else: the European emergency number only).
    pub listed: bool,
    /// What to do first, in the reader's language.
    pub advice: &'static str,
    /// The lines, the most specific first.
    pub items: Vec<CrisisLine>,
}

type Line = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
);

/// (kind, name, phone, French description, English description, free); every line is open 24/7.
const LINES: &[(&str, &[Line])] = &[
    (
        "FR",
        &[
            (
                "suicide_prevention",
                "3114",
                "3114",
                "Numéro national de prévention du suicide : des soignants vous répondent.",
                "National suicide prevention line: answered by health professionals.",
                true,
            ),
            (
                "emergency",
                "SAMU",
                "15",
                "Urgence médicale.",
                "Medical emergency.",
                true,
            ),
            (
                "emergency",
                "112",
                "112",
                "Numéro d'urgence européen.",
                "European emergency number.",
                true,
            ),
            (
                "deaf",
                "114",
                "114",
                "Urgences par SMS, tchat ou visio, pour les personnes sourdes ou malentendantes.",
                "Emergencies by text, chat or video, for deaf and hard-of-hearing people.",
                true,
            ),
            (
                "listening",
                "SOS Amitié",
                "09 72 39 40 50",
                "Écoute anonyme pour les personnes en détresse.",
                "Anonymous listening for people in distress.",
                false,
            ),
        ],
    ),
    (
        "BE",
        &[
            (
                "suicide_prevention",
                "Centre de Prévention du Suicide",
                "0800 32 123",
                "Prévention du suicide (francophone).",
                "Suicide prevention (French-speaking).",
                true,
            ),
            (
                "suicide_prevention",
                "Zelfmoordlijn",
                "1813",
                "Prévention du suicide (néerlandophone).",
                "Suicide prevention (Dutch-speaking).",
                true,
            ),
            (
                "emergency",
                "112",
                "112",
                "Numéro d'urgence européen.",
                "European emergency number.",
                true,
            ),
        ],
    ),
    (
        "CH",
        &[
            (
                "listening",
                "La Main Tendue",
                "143",
                "Écoute et aide en situation de crise.",
                "Listening and help in a crisis.",
                false,
            ),
            (
                "emergency",
                "144",
                "144",
                "Urgence sanitaire.",
                "Medical emergency.",
                true,
            ),
            (
                "emergency",
                "112",
                "112",
                "Numéro d'urgence européen.",
                "European emergency number.",
                true,
            ),
        ],
    ),
    (
        "CA",
        &[
            (
                "suicide_prevention",
                "988",
                "988",
                "Ligne d'aide en cas de crise de suicide (appel ou texto).",
                "Suicide Crisis Helpline (call or text).",
                true,
            ),
            ("emergency", "911", "911", "Urgences.", "Emergencies.", true),
        ],
    ),
    (
        "GB",
        &[
            (
                "listening",
                "Samaritans",
                "116 123",
                "Écoute, jour et nuit.",
                "Someone to talk to, day or night.",
                true,
            ),
            ("emergency", "999", "999", "Urgences.", "Emergencies.", true),
        ],
    ),
    (
        "US",
        &[
            (
                "suicide_prevention",
                "988 Suicide & Crisis Lifeline",
                "988",
                "Ligne de crise et de prévention du suicide (appel ou texto).",
                "Suicide and crisis line (call or text).",
                true,
            ),
            ("emergency", "911", "911", "Urgences.", "Emergencies.", true),
        ],
    ),
];

const FALLBACK: Line = (
    "emergency",
    "112",
    "112",
    "Numéro d'urgence européen, joignable depuis la plupart des téléphones mobiles.",
    "European emergency number, reachable from most mobile phones.",
    true,
);

/// Whether the reader prefers English (`Accept-Language` starting with `en`); French otherwise.
fn english(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("en"))
}

/// Crisis lines to call now (public).
#[utoipa::path(get, path = "/resources/crisis", tag = "resources", params(CrisisQuery),
    responses((status = 200, body = CrisisLines), (status = 422, body = crate::infra::error::Problem)))]
pub async fn list_crisis_lines(
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CrisisQuery>,
) -> ApiResult<Json<CrisisLines>> {
    let country = query
        .country
        .as_deref()
        .map_or("FR", str::trim)
        .to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::invalid_field(
            "country",
            "must be a two-letter country code (ISO 3166-1), e.g. FR",
        ));
    }
    let english = english(&headers);
    let listed = LINES.iter().find(|(code, _)| *code == country);
    let line = |&(kind, name, phone, fr, en, free): &Line| CrisisLine {
        kind,
        name,
        phone,
        description: if english { en } else { fr },
        free,
        always_open: true,
    };
    let items = match listed {
        Some((_, lines)) => lines.iter().map(line).collect(),
        None => vec![line(&FALLBACK)],
    };
    Ok(Json(CrisisLines {
        country,
        listed: listed.is_some(),
        advice: if english {
            "If you or someone near you is in danger, call an emergency number now."
        } else {
            "Si vous ou quelqu'un près de vous êtes en danger, appelez un numéro d'urgence maintenant."
        },
        items,
    }))
}

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_crisis_lines))
}
