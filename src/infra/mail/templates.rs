//! Mail texts in French (default) and English. Plain text: readable everywhere, nothing to render.

/// Which message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MailKind {
    /// Confirm the email address (link to `/verify-email`).
    VerifyEmail,
    /// Welcome to a company's space; choose a password (link to `/reset-password`).
    Invitation,
    /// Reset a forgotten password (link to `/reset-password`).
    PasswordReset,
}

/// A rendered message.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Renders `kind` in `locale` (`en`, else French) for `name` with the action `link`.
pub fn render(kind: MailKind, locale: &str, name: &str, link: &str, hours_valid: i64) -> Rendered {
    let english = locale == "en";
    let (subject, body) = match (kind, english) {
        (MailKind::VerifyEmail, false) => (
            "Confirmez votre adresse e-mail — HuntZen Care".to_owned(),
            format!(
                "Bonjour {name},\n\nPour confirmer votre adresse e-mail, ouvrez ce lien :\n\n{link}\n\n\
                 Il est valable {hours_valid} heures et ne sert qu'une fois.\n\
                 Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::VerifyEmail, true) => (
            "Confirm your email address — HuntZen Care".to_owned(),
            format!(
                "Hello {name},\n\nTo confirm your email address, open this link:\n\n{link}\n\n\
                 It is valid for {hours_valid} hours and works once.\n\
                 If you did not ask for this, ignore this message.\n\nThe HuntZen Care team\n"
            ),
        ),
        (MailKind::Invitation, false) => (
            "Votre accès à HuntZen Care".to_owned(),
            format!(
                "Bonjour {name},\n\nUn espace HuntZen Care a été ouvert pour vous. Choisissez votre mot de passe ici :\n\n{link}\n\n\
                 Ce lien est valable {hours_valid} heures et ne sert qu'une fois.\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::Invitation, true) => (
            "Your HuntZen Care access".to_owned(),
            format!(
                "Hello {name},\n\nA HuntZen Care space has been opened for you. Choose your password here:\n\n{link}\n\n\
                 This link is valid for {hours_valid} hours and works once.\n\nThe HuntZen Care team\n"
            ),
        ),
        (MailKind::PasswordReset, false) => (
            "Réinitialisation de votre mot de passe — HuntZen Care".to_owned(),
            format!(
                "Bonjour {name},\n\nPour choisir un nouveau mot de passe, ouvrez ce lien :\n\n{link}\n\n\
                 Il est valable {hours_valid} heures et ne sert qu'une fois.\n\
                 Si vous n'avez rien demandé, ignorez ce message : votre mot de passe reste inchangé.\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::PasswordReset, true) => (
            "Reset your password — HuntZen Care".to_owned(),
            format!(
                "Hello {name},\n\nTo choose a new password, open this link:\n\n{link}\n\n\
                 It is valid for {hours_valid} hours and works once.\n\
                 If you did not ask for this, ignore this message: your password is unchanged.\n\nThe HuntZen Care team\n"
            ),
        ),
    };
    Rendered { subject, body }
}

/// A consultation reminder in `locale` for `name`: `when` is already formatted with its zone.
pub fn reminder(locale: &str, name: &str, when: &str, hours_before: i64) -> Rendered {
    if locale == "en" {
        let soon = if hours_before <= 1 {
            "in one hour"
        } else {
            "tomorrow"
        };
        Rendered {
            subject: format!("Reminder: your consultation {soon} — HuntZen Care"),
            body: format!(
                "Hello {name},\n\nA reminder: your consultation is on {when}.\n\
                 Open HuntZen Care a few minutes before to join.\n\nThe HuntZen Care team\n"
            ),
        }
    } else {
        let soon = if hours_before <= 1 {
            "dans une heure"
        } else {
            "demain"
        };
        Rendered {
            subject: format!("Rappel : votre consultation {soon} — HuntZen Care"),
            body: format!(
                "Bonjour {name},\n\nPetit rappel : votre consultation a lieu le {when}.\n\
                 Ouvrez HuntZen Care quelques minutes avant pour la rejoindre.\n\nL'équipe HuntZen Care\n"
            ),
        }
    }
}
