"""The weekly digest: a week's figures from the store (`ledger`), rendered to Markdown, HTML
and text (`render`, `svg`), and sent once per week to Slack, email or a GitHub issue
(`sending`, `outlets`)."""
