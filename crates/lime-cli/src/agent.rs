//! `lime login` and `lime profile`.

use clap::Args;

use crate::client::{ClientArgs, PowArgs};
use crate::report::{self, Failure, escape_controls};

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The login request id the site gave you.
    request_id: String,
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    pow: PowArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ProfileArgs {
    #[command(flatten)]
    client: ClientArgs,
}

pub(crate) async fn login(args: LoginArgs, json_mode: bool) -> Result<u8, Failure> {
    let agent = args.client.agent(&args.pow)?;
    let progress = lime_core::lime_pow::Progress::new();
    let spinner = crate::spinner::Spinner::start(progress.clone());
    let result = agent.login_with_progress(&args.request_id, progress).await;
    drop(spinner);
    let report = result.map_err(lime_tokio::Error::from)?;
    let approval = &report.approval;
    let expires = report::time_ms(approval.expires_at);
    let mut value = report::to_json(approval)?;
    value["pow"] = report::to_json(&report.pow)?;
    report::success(
        json_mode,
        &value,
        &format!(
            "login {} confirmed\n  status   {}\n  site     {}\n  expires  {}",
            escape_controls(&approval.request_id),
            escape_controls(&approval.status.to_string()),
            escape_controls(&approval.site_id),
            expires
        ),
    );
    Ok(0)
}

pub(crate) async fn profile(args: ProfileArgs, json_mode: bool) -> Result<u8, Failure> {
    let agent = args.client.agent(&PowArgs::default())?;
    let p = agent.get_profile().await?;
    let text = |o: &Option<String>| o.as_deref().map_or_else(|| "-".to_owned(), escape_controls);
    let num = |o: &Option<i64>| o.map_or_else(|| "-".to_owned(), |n| n.to_string());
    report::success(
        json_mode,
        &report::to_json(&p)?,
        &format!(
            "agent        {}\nowner        {}\nname         {}\navatar       {}\ndescription  {}\nkyc level    {}\nreputation   {}",
            escape_controls(&p.agent_id),
            escape_controls(&p.owner_id),
            text(&p.display_name),
            text(&p.avatar_url),
            text(&p.description),
            num(&p.owner_kyc_level),
            num(&p.agent_reputation)
        ),
    );
    Ok(0)
}
