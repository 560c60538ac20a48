"""PartiQL: ExecuteStatement, BatchExecuteStatement and ExecuteTransaction through boto3,
on both backends, with AWS's errors."""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer
from ddb_helpers import create, error_of, unique


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}


@pytest.fixture(scope="module")
def music(ddb: Any) -> str:
    """A table of 30 items in 3 partitions: pk a0..a2, sk n (number) 0..9."""
    name = create(ddb, unique("pql"), range_type="N")
    for number in range(30):
        ddb.execute_statement(
            Statement=f'INSERT INTO "{name}" VALUE {{\'pk\': ?, \'sk\': ?, \'n\': ?, \'tag\': \'t{number % 3}\', '
                      "'info': {'deep': [1, 2, {'x': 'y'}]}}",
            Parameters=[{"S": f"a{number // 10}"}, {"N": str(number % 10)}, {"N": str(number)}],
        )
    return name


def test_select_by_partition_key_is_ordered_and_filtered(ddb: Any, music: str) -> None:
    answer = ddb.execute_statement(Statement=f'SELECT * FROM "{music}" WHERE pk = ? AND sk >= 7',
                                   Parameters=[{"S": "a1"}])
    assert [_plain(i)["n"] for i in answer["Items"]] == [17, 18, 19]
    assert "NextToken" not in answer
    answer = ddb.execute_statement(Statement=f"SELECT sk FROM \"{music}\" WHERE pk = 'a2' AND tag = 't0'")
    assert [i["sk"]["N"] for i in answer["Items"]] == ["1", "4", "7"]
    assert all(set(i) == {"sk"} for i in answer["Items"])


def test_select_projection_of_nested_paths(ddb: Any, music: str) -> None:
    answer = ddb.execute_statement(
        Statement=f"SELECT info.deep[2].x, n FROM \"{music}\" WHERE pk = 'a0' AND sk = 3")
    assert answer["Items"] == [{"info": {"M": {"deep": {"L": [{"M": {"x": {"S": "y"}}}]}}}, "n": {"N": "3"}}]


def test_select_scan_with_filters(ddb: Any, music: str) -> None:
    answer = ddb.execute_statement(
        Statement=f'SELECT n FROM "{music}" WHERE n BETWEEN 5 AND 8 OR begins_with(tag, \'t2\') AND n > 25')
    assert sorted(int(i["n"]["N"]) for i in answer["Items"]) == [5, 6, 7, 8, 26, 29]
    answer = ddb.execute_statement(Statement=f'SELECT n FROM "{music}" WHERE n IN [1, 2, 3] AND missing_attr IS MISSING')
    assert sorted(int(i["n"]["N"]) for i in answer["Items"]) == [1, 2, 3]


def test_select_paginates_with_next_token(ddb: Any, music: str) -> None:
    seen: list[int] = []
    token = None
    pages = 0
    while True:
        extra = {"NextToken": token} if token else {}
        answer = ddb.execute_statement(Statement=f'SELECT n FROM "{music}"', Limit=7, **extra)
        pages += 1
        seen += [int(i["n"]["N"]) for i in answer["Items"]]
        token = answer.get("NextToken")
        if token is None:
            break
        assert pages < 10
    assert sorted(seen) == list(range(30))
    assert pages == 5


def test_insert_duplicate_is_refused(ddb: Any) -> None:
    table = create(ddb, unique("pql"))
    statement = f"INSERT INTO \"{table}\" VALUE {{'pk': 'k', 'sk': 's', 'set': <<'a', 'b'>>, 'flag': true}}"
    assert ddb.execute_statement(Statement=statement)["Items"] == []
    error = error_of(ddb.execute_statement, Statement=statement)
    assert (error["Code"], error["Message"]) == ("DuplicateItemException", "Duplicate primary key exists in table")
    item = ddb.get_item(TableName=table, Key={"pk": {"S": "k"}, "sk": {"S": "s"}})["Item"]
    assert _plain(item) == {"pk": "k", "sk": "s", "set": {"a", "b"}, "flag": True}


def test_update_set_remove_and_returning(ddb: Any) -> None:
    table = create(ddb, unique("pql"))
    ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "sk": {"S": "s"}, "count": {"N": "1"},
                                        "gone": {"S": "x"}, "list": {"L": [{"N": "1"}]}})
    answer = ddb.execute_statement(
        Statement=f"UPDATE \"{table}\" SET count = count + ? SET list = list_append(list, [2]) "
                  f"REMOVE gone WHERE pk = 'k' AND sk = 's' RETURNING ALL NEW *",
        Parameters=[{"N": "4"}],
    )
    assert _plain(answer["Items"][0]) == {"pk": "k", "sk": "s", "count": 5, "list": [1, 2]}
    answer = ddb.execute_statement(
        Statement=f"UPDATE \"{table}\" SET tags = set_add(tags, <<'x'>>) WHERE pk = 'k' AND sk = 's' "
                  "RETURNING MODIFIED NEW *")
    assert _plain(answer["Items"][0]) == {"tags": {"x"}}


def test_update_errors(ddb: Any) -> None:
    table = create(ddb, unique("pql"))
    ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "sk": {"S": "s"}, "v": {"N": "1"}})
    error = error_of(ddb.execute_statement, Statement=f"UPDATE \"{table}\" SET v = 2 WHERE pk = 'nope' AND sk = 's'")
    assert (error["Code"], error["Message"]) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "nope"}, "sk": {"S": "s"}})
    error = error_of(ddb.execute_statement, Statement=f"UPDATE \"{table}\" SET v = 2 WHERE pk = 'k' AND sk = 's' AND v = 5",
                     ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert error["Code"] == "ConditionalCheckFailedException"
    assert error["response"]["Item"] == {"pk": {"S": "k"}, "sk": {"S": "s"}, "v": {"N": "1"}}
    error = error_of(ddb.execute_statement, Statement=f"UPDATE \"{table}\" SET v = 2 WHERE pk = 'k'")
    assert (error["Code"], error["Message"]) == (
        "ValidationException", "Where clause does not contain a mandatory equality on all key attributes")
    error = error_of(ddb.execute_statement, Statement=f"UPDATE \"{table}\" SET pk = 'x' WHERE pk = 'k' AND sk = 's'")
    assert error["Message"] == "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"


def test_delete(ddb: Any) -> None:
    table = create(ddb, unique("pql"))
    ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "sk": {"S": "s"}, "v": {"N": "1"}})
    # A missing item is no error; a WHERE that does not hold on the item is.
    assert ddb.execute_statement(Statement=f"DELETE FROM \"{table}\" WHERE pk = 'x' AND sk = 's'")["Items"] == []
    error = error_of(ddb.execute_statement, Statement=f"DELETE FROM \"{table}\" WHERE pk = 'k' AND sk = 's' AND v = 2")
    assert error["Code"] == "ConditionalCheckFailedException"
    answer = ddb.execute_statement(Statement=f"DELETE FROM \"{table}\" WHERE pk = 'k' AND sk = 's' RETURNING ALL OLD *")
    assert answer["Items"] == [{"pk": {"S": "k"}, "sk": {"S": "s"}, "v": {"N": "1"}}]
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "k"}, "sk": {"S": "s"}})


@pytest.mark.parametrize(("statement", "parameters", "message"), [
    ("FETCH * FROM t", None, "Statement wasn't well formed, can't be processed: Expected data manipulation"),
    ('SELECT * FROM "{t}" WHERE pk = ?', None, "Number of parameters in request and statement don't match."),
    ('SELECT * FROM "{t}"', [{"S": "x"}], "Number of parameters in request and statement don't match."),
    ('SELECT * FROM "{t}" WHERE', None, "Statement wasn't well formed, can't be processed: Unexpected end of statement"),
    ('SELECT * FROM "{t}" WHERE pk = = 1', None, "Statement wasn't well formed, can't be processed: Unexpected token: ="),
])
def test_statement_errors(ddb: Any, music: str, statement: str, parameters: Any, message: str) -> None:
    extra = {"Parameters": parameters} if parameters else {}
    error = error_of(ddb.execute_statement, Statement=statement.replace("{t}", music), **extra)
    assert (error["Code"], error["Message"]) == ("ValidationException", message)


def test_missing_table(ddb: Any) -> None:
    error = error_of(ddb.execute_statement, Statement='SELECT * FROM "no-such-table-pql"')
    assert (error["Code"], error["Message"]) == ("ResourceNotFoundException", "Requested resource not found")


def test_batch_execute_statement(ddb: Any, music: str) -> None:
    table = create(ddb, unique("pql"))
    writes = ddb.batch_execute_statement(Statements=[
        {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': ?, 'sk': 's'}}", "Parameters": [{"S": "a"}]},
        {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': 'b', 'sk': 's'}}"},
        {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': 'a', 'sk': 's'}}"},
    ])["Responses"]
    assert [r.get("Error", {}).get("Code") for r in writes] == [None, None, "DuplicateItem"]
    assert writes[0]["TableName"] == table
    reads = ddb.batch_execute_statement(Statements=[
        {"Statement": f"SELECT n FROM \"{music}\" WHERE pk = 'a0' AND sk = 4"},
        {"Statement": f"SELECT * FROM \"{music}\" WHERE pk = 'zz' AND sk = 4"},
        {"Statement": f"SELECT * FROM \"{music}\" WHERE pk = 'a0'"},
    ])["Responses"]
    assert reads[0]["Item"] == {"n": {"N": "4"}}
    assert "Item" not in reads[1] and "Error" not in reads[1]
    assert reads[2]["Error"] == {
        "Code": "ValidationError", "Message": "Where clause does not contain a mandatory equality on all key attributes"}
    error = error_of(ddb.batch_execute_statement, Statements=[
        {"Statement": f"SELECT * FROM \"{music}\" WHERE pk = 'a0' AND sk = 1"},
        {"Statement": f"DELETE FROM \"{table}\" WHERE pk = 'a' AND sk = 's'"},
    ])
    assert error["Code"] == "ValidationException"


def test_execute_transaction_all_or_nothing(ddb: Any) -> None:
    table = create(ddb, unique("pql"))
    ddb.put_item(TableName=table, Item={"pk": {"S": "old"}, "sk": {"S": "s"}, "v": {"N": "1"}})
    error = error_of(ddb.execute_transaction, TransactStatements=[
        {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': 'new', 'sk': 's'}}"},
        {"Statement": f"UPDATE \"{table}\" SET v = 2 WHERE pk = 'old' AND sk = 's' AND v = 9"},
    ])
    assert error["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["response"]["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "new"}, "sk": {"S": "s"}})
    ddb.execute_transaction(TransactStatements=[
        {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': 'new', 'sk': 's'}}"},
        {"Statement": f"UPDATE \"{table}\" SET v = v + ? WHERE pk = 'old' AND sk = 's'", "Parameters": [{"N": "1"}]},
    ], ClientRequestToken="tok-1")
    # The same token and request again: accepted, not applied twice.
    ddb.execute_transaction(TransactStatements=[
        {"Statement": f"INSERT INTO \"{table}\" VALUE {{'pk': 'new', 'sk': 's'}}"},
        {"Statement": f"UPDATE \"{table}\" SET v = v + ? WHERE pk = 'old' AND sk = 's'", "Parameters": [{"N": "1"}]},
    ], ClientRequestToken="tok-1")
    reads = ddb.execute_transaction(TransactStatements=[
        {"Statement": f"SELECT v FROM \"{table}\" WHERE pk = 'old' AND sk = 's'"},
        {"Statement": f"SELECT * FROM \"{table}\" WHERE pk = 'new' AND sk = 's'"},
        {"Statement": f"SELECT * FROM \"{table}\" WHERE pk = 'none' AND sk = 's'"},
    ])["Responses"]
    assert reads == [{"Item": {"v": {"N": "2"}}}, {"Item": {"pk": {"S": "new"}, "sk": {"S": "s"}}}, {}]
    error = error_of(ddb.execute_transaction, TransactStatements=[
        {"Statement": f"SELECT * FROM \"{table}\" WHERE pk = 'new' AND sk = 's'"},
        {"Statement": f"DELETE FROM \"{table}\" WHERE pk = 'old' AND sk = 's'"},
    ])
    assert error["Code"] == "ValidationException"


def test_partiql_writes_survive_kill9(freehold: Any) -> None:
    ddb = freehold.client("dynamodb")
    table = create(ddb, unique("pql"))
    ddb.execute_statement(Statement=f"INSERT INTO \"{table}\" VALUE {{'pk': 'k', 'sk': 's', 'v': 1}}")
    ddb.execute_statement(Statement=f"UPDATE \"{table}\" SET v = 7 WHERE pk = 'k' AND sk = 's'")
    freehold.kill9()
    freehold.start()
    ddb = freehold.client("dynamodb")
    answer = ddb.execute_statement(Statement=f"SELECT v FROM \"{table}\" WHERE pk = 'k'")
    assert answer["Items"] == [{"v": {"N": "7"}}]
