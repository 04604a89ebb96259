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
    /// Confirm a new address asked for with `PUT /api/me/email` (sent to it; link to `/verify-email`).
    ConfirmEmailChange,
    /// Tells the current address that a change of address was asked for (link to `/login`).
    EmailChangeRequested,
    /// Tells the owner their password was changed (link to `/forgot-password`).
    PasswordChanged,
    /// Someone registered with an address that already has an account (link to `/forgot-password`).
    RegistrationExists,
    /// Someone registered with an address whose domain is no customer's (link to the home page).
    RegistrationNoCompany,
    /// Sign-ins were slowed by wrong passwords: a link that lets the owner in (link to `/unlock`).
    AccountUnlock,
    /// A platform admin validated the practitioner: they are listed and bookable (link to `/login`).
    PractitionerValidated,
    /// A platform admin refused the application or a credentials change, with a reason (link to
    /// `/login`). The reason is read when the mail is sent.
    PractitionerRejected,
    /// A support ticket of theirs was answered, resolved or closed (link to `/support`). Never
    /// what was written.
    SupportReply,
    /// An HR admin's company report for last month is complete (link to `/reports`). Never a figure.
    ReportReady,
}

impl MailKind {
    /// The path of the link in the message, under `PUBLIC_URL`.
    pub fn link_path(self) -> &'static str {
        match self {
            MailKind::VerifyEmail | MailKind::ConfirmEmailChange => "verify-email",
            MailKind::Invitation | MailKind::PasswordReset => "reset-password",
            MailKind::EmailChangeRequested => "login",
            MailKind::PasswordChanged | MailKind::RegistrationExists => "forgot-password",
            MailKind::RegistrationNoCompany => "",
            MailKind::AccountUnlock => "unlock",
            MailKind::PractitionerValidated | MailKind::PractitionerRejected => "login",
            MailKind::SupportReply => "support",
            MailKind::ReportReady => "reports",
        }
    }
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
        (MailKind::ConfirmEmailChange, false) => (
            "Confirmez votre nouvelle adresse — HuntZen Care".to_owned(),
            format!(
                "Bonjour {name},\n\nPour utiliser cette adresse pour votre compte HuntZen Care, ouvrez ce lien :\n\n{link}\n\n\
                 Il est valable {hours_valid} heures et ne sert qu'une fois.\n\
                 Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::ConfirmEmailChange, true) => (
            "Confirm your new address — HuntZen Care".to_owned(),
            format!(
                "Hello {name},\n\nTo use this address for your HuntZen Care account, open this link:\n\n{link}\n\n\
                 It is valid for {hours_valid} hours and works once.\n\
                 If you did not ask for this, ignore this message.\n\nThe HuntZen Care team\n"
            ),
        ),
        (MailKind::EmailChangeRequested, false) => (
            "Changement d'adresse demandé — HuntZen Care".to_owned(),
            format!(
                "Bonjour {name},\n\nUn changement de l'adresse e-mail de votre compte vient d'être demandé. \
                 Il ne prendra effet que lorsque la nouvelle adresse l'aura confirmé.\n\
                 Si ce n'est pas vous, connectez-vous et changez votre mot de passe : {link}\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::EmailChangeRequested, true) => (
            "Change of address requested — HuntZen Care".to_owned(),
            format!(
                "Hello {name},\n\nA change of your account's email address was just requested. \
                 It takes effect only once the new address confirms it.\n\
                 If this was not you, sign in and change your password: {link}\n\nThe HuntZen Care team\n"
            ),
        ),
        (MailKind::PasswordChanged, false) => (
            "Votre mot de passe a été changé — HuntZen Care".to_owned(),
            format!(
                "Bonjour {name},\n\nLe mot de passe de votre compte vient d'être changé ; vos autres connexions ont été fermées.\n\
                 Si ce n'est pas vous, choisissez-en un nouveau ici : {link}\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::PasswordChanged, true) => (
            "Your password was changed — HuntZen Care".to_owned(),
            format!(
                "Hello {name},\n\nYour account's password was just changed; your other sign-ins were ended.\n\
                 If this was not you, choose a new one here: {link}\n\nThe HuntZen Care team\n"
            ),
        ),
        (MailKind::RegistrationExists, false) => (
            "Inscription à HuntZen Care".to_owned(),
            format!(
                "Bonjour {name},\n\nQuelqu'un a voulu créer un compte HuntZen Care avec votre adresse, qui en a déjà un. \
                 Rien n'a changé sur votre compte.\n\
                 Si c'était vous, connectez-vous, ou choisissez un nouveau mot de passe ici : {link}\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::RegistrationExists, true) => (
            "Signing up to HuntZen Care".to_owned(),
            format!(
                "Hello {name},\n\nSomeone tried to create a HuntZen Care account with your address, which already has one. \
                 Nothing changed on your account.\n\
                 If it was you, sign in, or choose a new password here: {link}\n\nThe HuntZen Care team\n"
            ),
        ),
        (MailKind::RegistrationNoCompany, false) => (
            "Inscription à HuntZen Care".to_owned(),
            format!(
                "Bonjour,\n\nUne inscription à HuntZen Care a été demandée avec cette adresse, mais aucune entreprise \
                 cliente n'utilise ce domaine. Demandez à votre service RH si votre entreprise propose HuntZen Care : \
                 il vous enverra une invitation.\n\
                 Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n\n{link}\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::RegistrationNoCompany, true) => (
            "Signing up to HuntZen Care".to_owned(),
            format!(
                "Hello,\n\nA HuntZen Care sign-up was asked for with this address, but no customer company uses its \
                 domain. Ask your HR department whether your company offers HuntZen Care: they will send you an invitation.\n\
                 If you did not ask for this, ignore this message.\n\n{link}\n\nThe HuntZen Care team\n"
            ),
        ),
        (MailKind::AccountUnlock, false) => (
            "Connexion ralentie sur votre compte — HuntZen Care".to_owned(),
            format!(
                "Bonjour {name},\n\nPlusieurs mots de passe erronés ont été essayés sur votre compte, et les connexions \
                 sont ralenties. Pour vous connecter malgré tout, ouvrez ce lien et saisissez votre mot de passe :\n\n{link}\n\n\
                 Il est valable {hours_valid} heures et ne sert qu'une fois. Si ces essais ne viennent pas de vous, \
                 changez votre mot de passe et activez la double authentification.\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::AccountUnlock, true) => (
            "Sign-ins slowed on your account — HuntZen Care".to_owned(),
            format!(
                "Hello {name},\n\nSeveral wrong passwords were tried on your account, and sign-ins are slowed. \
                 To sign in anyway, open this link and enter your password:\n\n{link}\n\n\
                 It is valid for {hours_valid} hours and works once. If these tries were not yours, change your \
                 password and turn on two-factor sign-in.\n\nThe HuntZen Care team\n"
            ),
        ),
        (MailKind::PractitionerValidated, false) => (
            "Votre profil est validé — HuntZen Care".to_owned(),
            format!(
                "Bonjour {name},\n\nVotre profil de praticien a été validé : il apparaît dans l'annuaire \
                 et les salariés peuvent réserver vos créneaux.\n\n{link}\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::PractitionerValidated, true) => (
            "Your profile is validated — HuntZen Care".to_owned(),
            format!(
                "Hello {name},\n\nYour practitioner profile was validated: it is listed and employees can \
                 book your slots.\n\n{link}\n\nThe HuntZen Care team\n"
            ),
        ),
        (MailKind::SupportReply, false) => (
            "Votre demande d'assistance a avancé — HuntZen Care".to_owned(),
            format!(
                "Bonjour {name},\n\nL'équipe HuntZen Care a répondu à votre demande d'assistance, ou l'a \
                 traitée. Pour la lire, connectez-vous :\n\n{link}\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::SupportReply, true) => (
            "Your support request has news — HuntZen Care".to_owned(),
            format!(
                "Hello {name},\n\nThe HuntZen Care team answered or handled your support request. Sign in \
                 to read it:\n\n{link}\n\nThe HuntZen Care team\n"
            ),
        ),
        (MailKind::ReportReady, false) => (
            "Le rapport du mois est disponible — HuntZen Care".to_owned(),
            format!(
                "Bonjour {name},\n\nLe rapport d'utilisation de votre entreprise pour le mois écoulé est \
                 complet. Consultez-le dans votre espace :\n\n{link}\n\nL'équipe HuntZen Care\n"
            ),
        ),
        (MailKind::ReportReady, true) => (
            "Last month's report is ready — HuntZen Care".to_owned(),
            format!(
                "Hello {name},\n\nYour company's usage report for last month is complete. Read it in your \
                 space:\n\n{link}\n\nThe HuntZen Care team\n"
            ),
        ),
        (MailKind::PractitionerRejected, english) => {
            let rendered =
                practitioner_rejected(if english { "en" } else { "fr" }, name, None, link);
            (rendered.subject, rendered.body)
        }
    };
    Rendered { subject, body }
}

/// A refusal of a practitioner's application or credentials change, with the admin's `reason`.
pub fn practitioner_rejected(
    locale: &str,
    name: &str,
    reason: Option<&str>,
    link: &str,
) -> Rendered {
    if locale == "en" {
        let reason = reason.map_or(String::new(), |r| {
            format!("The reviewer's reason:\n\n{r}\n\n")
        });
        Rendered {
            subject: "Your practitioner profile needs changes — HuntZen Care".to_owned(),
            body: format!(
                "Hello {name},\n\nYour practitioner profile (or the change you asked for) was not accepted \
                 as it is.\n\n{reason}Once you have updated your profile or added the missing documents, it \
                 goes back for review.\n\n{link}\n\nThe HuntZen Care team\n"
            ),
        }
    } else {
        let reason = reason.map_or(String::new(), |r| format!("Le motif indiqué :\n\n{r}\n\n"));
        Rendered {
            subject: "Votre profil de praticien est à compléter — HuntZen Care".to_owned(),
            body: format!(
                "Bonjour {name},\n\nVotre profil de praticien (ou la modification demandée) n'a pas été \
                 accepté en l'état.\n\n{reason}Dès que vous aurez mis à jour votre profil ou ajouté les \
                 documents manquants, il repartira en vérification.\n\n{link}\n\nL'équipe HuntZen Care\n"
            ),
        }
    }
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
                 Open HuntZen Care a few minutes before to join.\n\n\
                 If you need help right now, do not wait for the appointment: in France call 3114 \
                 (suicide prevention, 24/7) or 112 (emergencies).\n\nThe HuntZen Care team\n"
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
                 Ouvrez HuntZen Care quelques minutes avant pour la rejoindre.\n\n\
                 Si vous avez besoin d'aide tout de suite, n'attendez pas le rendez-vous : appelez le 3114 \
                 (prévention du suicide, 24h/24) ou le 112 (urgences).\n\nL'équipe HuntZen Care\n"
            ),
        }
    }
}
