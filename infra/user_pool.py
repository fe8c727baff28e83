"""The web page's users: a Cognito user pool whose groups are the tenants, and the page's app client."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.constants import ACCESS_TOKEN_VALIDITY, ID_TOKEN_VALIDITY, REFRESH_TOKEN_VALIDITY
from infra.nag import acknowledge

# NIST SP 800-63B favours length over rules; cdk-nag (COG1) asks for every character class too.
PASSWORD_MIN_LENGTH = 12
TEMPORARY_PASSWORD_VALIDITY = Duration.days(3)


class WebUserPool(Construct):
    """Users are created by the operator, never by themselves; a user's groups name the tenants they may read.

    The page signs in through Cognito's API (``USER_PASSWORD_AUTH`` or SRP), not the hosted UI: the hosted UI's
    callback would be the distribution's URL, and the distribution depends on the API, whose authorizer depends on
    this client, so the callback would close a dependency cycle.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "Pool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True),
            sign_in_case_sensitive=False,
            password_policy=cognito.PasswordPolicy(
                min_length=PASSWORD_MIN_LENGTH,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=TEMPORARY_PASSWORD_VALIDITY,
            ),
            # Authenticator apps only: SMS would need an SMS role and a spending limit, and users may enrol later.
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            # The operator resets passwords (docs/deploy.md): no self-service recovery, so no mail to configure.
            account_recovery=cognito.AccountRecovery.NONE,
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            deletion_protection=True,
            # Users and their tenants are configuration an operator made by hand; a stack update must not lose it.
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.client = self.user_pool.add_client(
            "WebClient",
            # A page cannot keep a secret: the client is public, as Cognito's guidance for browsers says.
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=ID_TOKEN_VALIDITY,
            access_token_validity=ACCESS_TOKEN_VALIDITY,
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG2",
            "MFA is optional (authenticator apps): users are created by the operator with a strong password, the "
            "page only reads figures, and required MFA needs an enrolment step the page does not have yet.",
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG8",
            "The Essentials plan: Plus adds threat protection priced per monthly active user, aimed at self-service "
            "sign-in at scale; this pool has a few operator-created users and no self sign-up.",
        )
