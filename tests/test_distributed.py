import pytest

from distributed import Launch, LaunchError, detect_launch, expand_hostlist, shard


@pytest.mark.parametrize("hostlist, expected", [
    ("node01", ["node01"]),
    ("node[01-03,07]", ["node01", "node02", "node03", "node07"]),
    ("gpu-a[9-10],gpu-b4", ["gpu-a9", "gpu-a10", "gpu-b4"]),
    ("n[008-010]", ["n008", "n009", "n010"]),
    ("a[1-2],b[3],c", ["a1", "a2", "b3", "c"]),
    ("rack[1-2]-n[1-2]", ["rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"]),
    ("host1,host2", ["host1", "host2"]),
])
def test_expand_hostlist(hostlist, expected):
    assert expand_hostlist(hostlist) == expected


@pytest.mark.parametrize("hostlist", ["", "node[01-03", "node01-03]", "node[a-b]", "node[3-1]",
                                      "node[1-2,]", "a,,b", "n[[1]]"])
def test_malformed_hostlist(hostlist):
    with pytest.raises(LaunchError):
        expand_hostlist(hostlist)


def test_slurm_environment():
    env = {"SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_NTASKS": "8",
           "SLURM_JOB_NODELIST": "dgx[02-05]", "SLURM_JOB_ID": "123456"}
    launch = detect_launch(env)
    assert launch == Launch(5, 1, 8, "dgx02", 15000 + 1234560 % 20000, "slurm")
    assert detect_launch({**env, "MASTER_PORT": "4000"}).master_port == 4000


def test_slurm_step_nodes_come_first():
    """An srun step over part of the allocation: its own first node is the master."""
    env = {"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "dgx[02-05]",
           "SLURM_STEP_NODELIST": "dgx[04-05]", "SLURM_JOB_ID": "7"}
    assert detect_launch(env).master_addr == "dgx04"
    del env["SLURM_JOB_NODELIST"]
    assert detect_launch(env).master_addr == "dgx04"


def test_two_steps_of_one_job_get_different_ports():
    env = {"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "n1",
           "SLURM_JOB_ID": "4242"}
    ports = {detect_launch({**env, "SLURM_STEP_ID": str(step)}).master_port
             for step in range(10)}
    assert len(ports) == 10 and all(15000 <= port < 35000 for port in ports)
    assert detect_launch(env).master_port == detect_launch({**env, "SLURM_STEP_ID": "0"}).master_port


def test_torchrun_environment_wins_inside_slurm():
    env = {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "10.0.0.1",
           "MASTER_PORT": "29400", "SLURM_PROCID": "0", "SLURM_NTASKS": "1",
           "SLURM_JOB_NODELIST": "x1"}
    assert detect_launch(env) == Launch(1, 1, 2, "10.0.0.1", 29400, "torchrun")


def test_single_process_and_errors():
    assert detect_launch({}) == Launch()
    with pytest.raises(LaunchError, match="SLURM_NTASKS"):
        detect_launch({"SLURM_PROCID": "0", "SLURM_JOB_NODELIST": "a"})
    with pytest.raises(LaunchError, match="not an integer"):
        detect_launch({"RANK": "x", "WORLD_SIZE": "2"})


def test_shards_cover_every_example_once():
    parts = [shard(11, Launch(rank=r, world_size=3)) for r in range(3)]
    assert sorted(i for part in parts for i in part) == list(range(11))
