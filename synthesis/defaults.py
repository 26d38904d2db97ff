"""The paper's protocol as default process steps, used by the forms and the demo data."""

LAGP_BATCH_STEPS = [
    {
        "kind": "ball_milling",
        "solvent": "ethanol",
        "jar_material": "ZrO2",
        "rpm": 720,
        "duration_min": 120,
    },
    {"kind": "solvent_removal", "notes": "rotary evaporator"},
    {
        "kind": "drying",
        "temperature_c": 80,
        "duration_min": 720,
        "atmosphere": "air",
        "notes": "oven, overnight",
    },
    {
        "kind": "pretreatment",
        "temperature_c": 400,
        "duration_min": 300,
        "ramp_c_min": 5,
        "notes": "collected and ground afterwards",
    },
    {"kind": "calcination", "temperature_c": 800, "duration_min": 480, "ramp_c_min": 5},
    {"kind": "ball_milling", "rpm": 1400, "duration_min": 120, "jar_material": "ZrO2"},
]

SPE_MEMBRANE_STEPS = [
    {"kind": "vacuum_drying", "temperature_c": 100, "duration_min": 720, "atmosphere": "vacuum"},
    {"kind": "hot_pressing", "temperature_c": 100, "pressure_t_cm2": 10, "duration_min": 3},
    {"kind": "hot_pressing", "temperature_c": 100, "pressure_t_cm2": 20, "duration_min": 4},
    {"kind": "hot_pressing", "temperature_c": 100, "pressure_t_cm2": 30, "duration_min": 4},
    {"kind": "hot_pressing", "temperature_c": 100, "pressure_t_cm2": 50, "duration_min": 4},
    {"kind": "uv_crosslinking", "lamp_power_w": 350, "duration_min": 6, "notes": "Hg lamp"},
]

ILE_BATCH_STEPS = [
    {"kind": "vacuum_drying", "temperature_c": 80, "atmosphere": "vacuum"},
    {
        "kind": "vacuum_drying",
        "temperature_c": 80,
        "atmosphere": "vacuum",
        "pressure_mbar": 1e-7,
        "notes": "turbo pump",
    },
]

CATHODE_COATING_STEPS = [
    {"kind": "casting", "solvent": "NMP", "notes": "doctor blade on Al foil"},
    {
        "kind": "vacuum_drying",
        "temperature_c": 120,
        "duration_min": 720,
        "atmosphere": "vacuum",
        "notes": "disks",
    },
    {"kind": "pressing", "pressure_t_cm2": 5, "notes": "disks"},
]
