"""deploy/sessiondemo.yaml: cfn-lint clean, and in agreement with the code it deploys."""

import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.test import Client

from session_engines.backends import dynamodb
from tests.deploy import ROOT, TEMPLATE, settings_modules
from tests.deploy.dockerfile import final_stage, one
from tests.deploy.template import container, container_env, load, properties

CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.fixture(scope="module")
def template():
    return load()


def test_cfn_lint_passes():
    # Informational checks too (-c I), in a few regions (AZ counts, instance types differ).
    result = subprocess.run(
        [
            CFN_LINT,
            "--include-checks",
            "I",
            "--regions",
            "us-east-1",
            "eu-west-1",
            "ap-northeast-2",
            "--",
            str(TEMPLATE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_cfn_lint_is_live(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        TEMPLATE.read_text().replace("BillingMode: PAY_PER_REQUEST", "BillingMode: FREE")
    )
    result = subprocess.run(
        [CFN_LINT, "--", str(broken)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode != 0 and "FREE" in result.stdout


def test_settings_module_choices_are_exactly_the_modules_that_exist(template):
    parameter = template["Parameters"]["SettingsModule"]
    assert sorted(parameter["AllowedValues"]) == settings_modules()
    assert parameter["Default"] in settings_modules()
    values, _ = container_env(template)
    assert values["DJANGO_SETTINGS_MODULE"] == {"Fn::Sub": "sessiondemo.settings.${SettingsModule}"}


def user_index_definition():
    try:  # what createsessiontable creates, where the engine defines it
        from session_engines.dynamodb_table import USER_INDEX_DEFINITION
    except ImportError:  # an engine version without that module: the same, from its constants
        return {
            "IndexName": dynamodb.USER_INDEX,
            "KeySchema": [{"AttributeName": dynamodb.USER_ATTRIBUTE, "KeyType": "HASH"}],
            "Projection": {
                "ProjectionType": "INCLUDE",
                "NonKeyAttributes": [dynamodb.EXPIRES_ATTRIBUTE],
            },
        }
    return USER_INDEX_DEFINITION


def test_table_is_the_one_the_engine_writes(template):
    table = properties(template, "SessionsTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": dynamodb.KEY_ATTRIBUTE, "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {
        "AttributeName": dynamodb.EXPIRES_ATTRIBUTE,
        "Enabled": True,
    }
    # The per-user index: the engine's user attribute, under the engine's index name, with
    # the expiry projected (live sessions are found from the index alone).
    assert table["GlobalSecondaryIndexes"] == [user_index_definition()]
    assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
        dynamodb.KEY_ATTRIBUTE: "S",
        dynamodb.USER_ATTRIBUTE: "S",
    }
    values, _ = container_env(template)
    assert values["SESSION_DYNAMODB_TABLE"] == {"Ref": "SessionsTable"}


def test_every_variable_given_to_the_task_is_read_by_the_code(template):
    values, secrets = container_env(template)
    readers = ["sessiondemo/settings/base.py", "sessiondemo/wsgi.py", "gunicorn.conf.py"]
    code = "".join((ROOT / path).read_text() for path in readers)
    for name in [*values, *secrets]:
        assert f'"{name}"' in code, f"{name} is set by the template but read nowhere"
    assert set(secrets) == {"DJANGO_SECRET_KEY", "REDIS_URL"}
    assert values["DJANGO_DEBUG"] == "0"
    assert values["DJANGO_TRUSTED_PROXY_HOPS"] == "1"  # the ALB, the sign-in throttle's address
    # ALLOWED_HOSTS is the ALB's name (and the custom domain when there is one).
    assert "LoadBalancer.DNSName" in str(values["DJANGO_ALLOWED_HOSTS"])


def test_port_and_health_check_agree_with_the_image(template):
    image_port = int(one(final_stage(), "EXPOSE"))
    assert container(template)["PortMappings"] == [{"ContainerPort": image_port, "Protocol": "tcp"}]
    group = properties(template, "TargetGroup")
    assert group["Port"] == image_port and int(group["HealthCheckPort"]) == image_port
    assert group["TargetType"] == "ip"
    # The ALB's health check, as it arrives: plain HTTP, Host = the target's IP and port.
    response = Client().get(group["HealthCheckPath"], HTTP_HOST=f"10.42.0.17:{image_port}")
    assert response.status_code == int(group["Matcher"]["HttpCode"])


def test_stickiness_is_a_parameter(template):
    assert template["Parameters"]["Stickiness"]["AllowedValues"] == ["off", "lb_cookie"]
    assert template["Conditions"]["Sticky"] == {"Fn::Equals": [{"Ref": "Stickiness"}, "lb_cookie"]}
    attributes = {
        item["Key"]: item["Value"]
        for item in properties(template, "TargetGroup")["TargetGroupAttributes"]
    }
    assert attributes["stickiness.enabled"] == {"Fn::If": ["Sticky", "true", "false"]}
    assert attributes["stickiness.type"] == "lb_cookie"
    assert attributes["stickiness.lb_cookie.duration_seconds"] == {
        "Ref": "StickinessDurationSeconds"
    }


def test_redis_is_multi_az_with_failover_tls_and_auth(template):
    group = properties(template, "Redis")
    assert group["NumCacheClusters"] >= 2
    assert group["MultiAZEnabled"] and group["AutomaticFailoverEnabled"]
    assert group["TransitEncryptionEnabled"] and group["AtRestEncryptionEnabled"]
    token = "{{resolve:secretsmanager:${RedisAuthToken}:SecretString:token}}"
    assert group["AuthToken"] == {"Fn::Sub": token}
    assert template["Resources"]["Redis"]["Condition"] == "ReplicationGroup"
    # REDIS_URL, as ECS injects it, is a TLS URL with the AUTH token that redis-py accepts.
    condition, serverless, replication_group = properties(template, "RedisUrl")["SecretString"][
        "Fn::If"
    ]
    assert condition == "Serverless" and "ServerlessRedis" in serverless["Fn::Sub"]
    url = replication_group["Fn::Sub"]
    assert url.startswith(f"rediss://:{token}@${{Redis.PrimaryEndPoint.Address}}:")
    sample = url.replace(token, "t0ken").replace(
        "${Redis.PrimaryEndPoint.Address}", "primary.example"
    )
    sample = sample.replace("${Redis.PrimaryEndPoint.Port}", "6379")
    pool = redis.ConnectionPool.from_url(sample)
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["password"] == "t0ken"
    assert pool.connection_kwargs["host"] == "primary.example"


def test_service_runs_at_least_two_fargate_tasks_over_two_azs(template):
    assert template["Parameters"]["DesiredCount"]["MinValue"] >= 2
    service = properties(template, "Service")
    assert service["LaunchType"] == "FARGATE"
    assert service["DesiredCount"] == {"Ref": "DesiredCount"}
    subnets = service["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]
    zones = [properties(template, subnet["Ref"])["AvailabilityZone"] for subnet in subnets]
    assert sorted(zone["Fn::Select"][0] for zone in zones) == [0, 1]
    assert container(template)["Image"] == {"Ref": "ImageUri"}


def test_secrets_come_from_secrets_manager_not_the_template(template):
    _, secrets = container_env(template)
    for name, reference in secrets.items():
        assert template["Resources"][reference["Ref"]]["Type"] == "AWS::SecretsManager::Secret", (
            name
        )
    assert "GenerateSecretString" in properties(template, "DjangoSecretKey")
    # No secret passes through a stack parameter (or the template): Secrets Manager makes them.
    assert not any(parameter.get("NoEcho") for parameter in template["Parameters"].values())


def test_outputs_the_alb_url(template):
    url = template["Outputs"]["Url"]["Value"]
    assert url["Fn::If"][0] == "Https"
    assert url["Fn::If"][2] == {"Fn::Sub": "http://${LoadBalancer.DNSName}"}


def test_redis_mode_serverless_is_valkey_in_cluster_mode_with_tls_and_an_acl_user(template):
    assert template["Parameters"]["RedisMode"]["AllowedValues"] == [
        "replication-group",
        "serverless",
    ]
    assert template["Conditions"]["Serverless"] == {
        "Fn::Equals": [{"Ref": "RedisMode"}, "serverless"]
    }
    resources = template["Resources"]
    for name in ("ServerlessRedis", "ServerlessRedisUser", "ServerlessRedisUsers"):
        assert resources[name]["Condition"] == "Serverless"
    cache = properties(template, "ServerlessRedis")
    assert resources["ServerlessRedis"]["Type"] == "AWS::ElastiCache::ServerlessCache"
    assert cache["Engine"] == "valkey"
    assert cache["UserGroupId"] == {"Ref": "ServerlessRedisUsers"}
    assert cache["SecurityGroupIds"] == [{"Ref": "RedisSecurityGroup"}]
    assert properties(template, "ServerlessRedisUsers")["UserIds"] == [
        {"Ref": "ServerlessRedisUser"}
    ]
    user = properties(template, "ServerlessRedisUser")
    token = "{{resolve:secretsmanager:${RedisAuthToken}:SecretString:token}}"
    assert user["AuthenticationMode"] == {"Type": "password", "Passwords": [{"Fn::Sub": token}]}
    # The URL ECS injects: TLS, the ACL user and its password, the serverless endpoint; the
    # task is told it is a cluster, which the native engine's cluster client accepts.
    _, serverless, _ = properties(template, "RedisUrl")["SecretString"]["Fn::If"]
    sample = serverless["Fn::Sub"].replace(token, "t0ken")
    sample = sample.replace("${ServerlessRedis.Endpoint.Address}", "sessions.serverless.example")
    sample = sample.replace("${ServerlessRedis.Endpoint.Port}", "6379")
    pool = redis.ConnectionPool.from_url(sample)
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["username"] == user["UserName"]
    assert pool.connection_kwargs["password"] == "t0ken"
    values, _ = container_env(template)
    assert values["REDIS_CLUSTER"] == {"Fn::If": ["Serverless", "1", "0"]}


def test_serverless_refuses_the_cache_engine(template):
    rule = template["Rules"]["ServerlessNeedsTheNativeEngine"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "RedisMode"}, "serverless"]}
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "SettingsModule"}, "cache"]}]
    }


def test_redis_cluster_env_makes_the_native_engine_a_cluster_client(monkeypatch):
    """REDIS_CLUSTER=1, as the task gets it with RedisMode serverless: the settings the engine
    then reads (its own URL and cluster client; django-redis cannot do cluster mode)."""
    from tests.sessiondemo.test_redis_failover import base_settings

    url = "rediss://sessiondemo:t0ken@sessions.serverless.example:6379/0"
    probe = base_settings(monkeypatch, REDIS_URL=url, REDIS_CLUSTER="1")
    assert probe.SESSION_REDIS["URL"] == url and probe.SESSION_REDIS["CLUSTER"] is True
    plain = base_settings(monkeypatch, REDIS_URL=url, REDIS_CLUSTER="0")
    assert plain.SESSION_REDIS.get("URL") is None and plain.SESSION_REDIS.get("CLUSTER") is None
