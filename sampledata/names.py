"""Name pools for the sample town (fictional Bangladeshi names)."""

TOWN_NAME = "Nilganj Pourashava"

SYLLABLE_HEAD = ["Sona", "Rup", "Moy", "Kali", "Nil", "Shanti", "Basu", "Ram", "Hari", "Chand",
                 "Gol", "Tut", "Bana", "Bag", "Khal", "Daul", "Ful", "Kash", "Nara", "Shib",
                 "Lal", "Mohes", "Kamal", "Bara", "Choto", "Dakshin", "Uttar", "Purba", "Paschim",
                 "Madhu", "Rani", "Raja", "Jora", "Pir", "Char", "Dighi", "Tala", "Hogla", "Bet"]
SYLLABLE_TAIL = ["danga", "pur", "para", "nagar", "ganj", "tala", "bari", "hati", "kanda", "gati",
                 "mari", "garh", "char", "dia", "bagan", "pukur", "khola", "bazar", "ghata", "haat"]

RIVER_NAMES = ["Bhairab", "Kalindi", "Modhumoti", "Chitra", "Bhadra", "Shibsa", "Kobadak",
               "Atharobanki", "Hari", "Betna"]

ROAD_SUFFIX_MAJOR = ["Road", "Sarak", "Avenue", "Main Road"]

MALE = ["Abdul", "Mohammad", "Rahim", "Karim", "Jamal", "Kamal", "Habib", "Rafiq", "Shafiq",
        "Nazrul", "Anwar", "Aminul", "Saiful", "Mizanur", "Harun", "Selim", "Alamgir", "Shahidul",
        "Mostafa", "Jahangir", "Nurul", "Delwar", "Babul", "Ratan", "Gopal", "Shyamal", "Bimal",
        "Subrata", "Prodip", "Tapan", "Faruk", "Monir", "Sohel", "Rubel", "Masud", "Hasan"]
FEMALE = ["Fatema", "Rokeya", "Nasima", "Shahnaz", "Rehana", "Salma", "Jesmin", "Parvin",
          "Nasrin", "Shirin", "Rina", "Mitu", "Ruma", "Shilpi", "Dipa", "Anjali", "Lipika",
          "Sumaiya", "Taslima", "Hasina", "Morium", "Ayesha", "Kohinur", "Rupa"]
SURNAME_M = ["Hossain", "Rahman", "Islam", "Ahmed", "Uddin", "Ali", "Khan", "Sheikh", "Mia",
             "Sarker", "Biswas", "Mondal", "Das", "Roy", "Ghosh", "Saha", "Chowdhury", "Talukder",
             "Howlader", "Molla", "Gazi", "Sikder", "Munshi", "Paul"]
SURNAME_F = ["Akter", "Begum", "Khatun", "Sultana", "Parvin", "Das", "Roy", "Rahman", "Islam"]

BUSINESS = ["Traders", "Store", "Enterprise", "Pharmacy", "Hotel", "Bhandar", "Electronics",
            "Tailors", "Bakery", "Steel House", "Telecom", "Vandar", "Cloth Store", "Agency"]

PLACE_KINDS = ["Bazar", "More", "Ghat", "Bus Stand", "High School", "Jame Masjid", "Eidgah",
               "Park", "Primary School", "Kacha Bazar", "Mandir", "Madrasa", "Govt. College",
               "Launch Ghat", "Hat"]


def locality(rng):
    return SYLLABLE_HEAD[rng.integers(len(SYLLABLE_HEAD))] + SYLLABLE_TAIL[rng.integers(len(SYLLABLE_TAIL))]


def person(rng, gender):
    if gender == "Female":
        return f"{FEMALE[rng.integers(len(FEMALE))]} {SURNAME_F[rng.integers(len(SURNAME_F))]}"
    return f"{MALE[rng.integers(len(MALE))]} {SURNAME_M[rng.integers(len(SURNAME_M))]}"
