"""The wizard's pages. Each page edits one part of the RunConfig; see base.WizardPage."""
