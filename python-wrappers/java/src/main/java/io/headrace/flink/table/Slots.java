package io.headrace.flink.table;

/** Numbered factory slots: the generated jar's services file lists the ones in use. */
public final class Slots {
    private Slots() {}

    /** Slot 0. */
    public static final class F00 extends HeadraceTableFactory {
        public F00() {
            super(0);
        }
    }

    /** Slot 1. */
    public static final class F01 extends HeadraceTableFactory {
        public F01() {
            super(1);
        }
    }

    /** Slot 2. */
    public static final class F02 extends HeadraceTableFactory {
        public F02() {
            super(2);
        }
    }

    /** Slot 3. */
    public static final class F03 extends HeadraceTableFactory {
        public F03() {
            super(3);
        }
    }

    /** Slot 4. */
    public static final class F04 extends HeadraceTableFactory {
        public F04() {
            super(4);
        }
    }

    /** Slot 5. */
    public static final class F05 extends HeadraceTableFactory {
        public F05() {
            super(5);
        }
    }

    /** Slot 6. */
    public static final class F06 extends HeadraceTableFactory {
        public F06() {
            super(6);
        }
    }

    /** Slot 7. */
    public static final class F07 extends HeadraceTableFactory {
        public F07() {
            super(7);
        }
    }

    /** Slot 8. */
    public static final class F08 extends HeadraceTableFactory {
        public F08() {
            super(8);
        }
    }

    /** Slot 9. */
    public static final class F09 extends HeadraceTableFactory {
        public F09() {
            super(9);
        }
    }

    /** Slot 10. */
    public static final class F10 extends HeadraceTableFactory {
        public F10() {
            super(10);
        }
    }

    /** Slot 11. */
    public static final class F11 extends HeadraceTableFactory {
        public F11() {
            super(11);
        }
    }

    /** Slot 12. */
    public static final class F12 extends HeadraceTableFactory {
        public F12() {
            super(12);
        }
    }

    /** Slot 13. */
    public static final class F13 extends HeadraceTableFactory {
        public F13() {
            super(13);
        }
    }

    /** Slot 14. */
    public static final class F14 extends HeadraceTableFactory {
        public F14() {
            super(14);
        }
    }

    /** Slot 15. */
    public static final class F15 extends HeadraceTableFactory {
        public F15() {
            super(15);
        }
    }

    /** Slot 16. */
    public static final class F16 extends HeadraceTableFactory {
        public F16() {
            super(16);
        }
    }

    /** Slot 17. */
    public static final class F17 extends HeadraceTableFactory {
        public F17() {
            super(17);
        }
    }

    /** Slot 18. */
    public static final class F18 extends HeadraceTableFactory {
        public F18() {
            super(18);
        }
    }

    /** Slot 19. */
    public static final class F19 extends HeadraceTableFactory {
        public F19() {
            super(19);
        }
    }

    /** Slot 20. */
    public static final class F20 extends HeadraceTableFactory {
        public F20() {
            super(20);
        }
    }

    /** Slot 21. */
    public static final class F21 extends HeadraceTableFactory {
        public F21() {
            super(21);
        }
    }

    /** Slot 22. */
    public static final class F22 extends HeadraceTableFactory {
        public F22() {
            super(22);
        }
    }

    /** Slot 23. */
    public static final class F23 extends HeadraceTableFactory {
        public F23() {
            super(23);
        }
    }

    /** Slot 24. */
    public static final class F24 extends HeadraceTableFactory {
        public F24() {
            super(24);
        }
    }

    /** Slot 25. */
    public static final class F25 extends HeadraceTableFactory {
        public F25() {
            super(25);
        }
    }

    /** Slot 26. */
    public static final class F26 extends HeadraceTableFactory {
        public F26() {
            super(26);
        }
    }

    /** Slot 27. */
    public static final class F27 extends HeadraceTableFactory {
        public F27() {
            super(27);
        }
    }

    /** Slot 28. */
    public static final class F28 extends HeadraceTableFactory {
        public F28() {
            super(28);
        }
    }

    /** Slot 29. */
    public static final class F29 extends HeadraceTableFactory {
        public F29() {
            super(29);
        }
    }

    /** Slot 30. */
    public static final class F30 extends HeadraceTableFactory {
        public F30() {
            super(30);
        }
    }

    /** Slot 31. */
    public static final class F31 extends HeadraceTableFactory {
        public F31() {
            super(31);
        }
    }

    /** Slot 32. */
    public static final class F32 extends HeadraceTableFactory {
        public F32() {
            super(32);
        }
    }

    /** Slot 33. */
    public static final class F33 extends HeadraceTableFactory {
        public F33() {
            super(33);
        }
    }

    /** Slot 34. */
    public static final class F34 extends HeadraceTableFactory {
        public F34() {
            super(34);
        }
    }

    /** Slot 35. */
    public static final class F35 extends HeadraceTableFactory {
        public F35() {
            super(35);
        }
    }

    /** Slot 36. */
    public static final class F36 extends HeadraceTableFactory {
        public F36() {
            super(36);
        }
    }

    /** Slot 37. */
    public static final class F37 extends HeadraceTableFactory {
        public F37() {
            super(37);
        }
    }

    /** Slot 38. */
    public static final class F38 extends HeadraceTableFactory {
        public F38() {
            super(38);
        }
    }

    /** Slot 39. */
    public static final class F39 extends HeadraceTableFactory {
        public F39() {
            super(39);
        }
    }

    /** Slot 40. */
    public static final class F40 extends HeadraceTableFactory {
        public F40() {
            super(40);
        }
    }

    /** Slot 41. */
    public static final class F41 extends HeadraceTableFactory {
        public F41() {
            super(41);
        }
    }

    /** Slot 42. */
    public static final class F42 extends HeadraceTableFactory {
        public F42() {
            super(42);
        }
    }

    /** Slot 43. */
    public static final class F43 extends HeadraceTableFactory {
        public F43() {
            super(43);
        }
    }

    /** Slot 44. */
    public static final class F44 extends HeadraceTableFactory {
        public F44() {
            super(44);
        }
    }

    /** Slot 45. */
    public static final class F45 extends HeadraceTableFactory {
        public F45() {
            super(45);
        }
    }

    /** Slot 46. */
    public static final class F46 extends HeadraceTableFactory {
        public F46() {
            super(46);
        }
    }

    /** Slot 47. */
    public static final class F47 extends HeadraceTableFactory {
        public F47() {
            super(47);
        }
    }

    /** Slot 48. */
    public static final class F48 extends HeadraceTableFactory {
        public F48() {
            super(48);
        }
    }

    /** Slot 49. */
    public static final class F49 extends HeadraceTableFactory {
        public F49() {
            super(49);
        }
    }

    /** Slot 50. */
    public static final class F50 extends HeadraceTableFactory {
        public F50() {
            super(50);
        }
    }

    /** Slot 51. */
    public static final class F51 extends HeadraceTableFactory {
        public F51() {
            super(51);
        }
    }

    /** Slot 52. */
    public static final class F52 extends HeadraceTableFactory {
        public F52() {
            super(52);
        }
    }

    /** Slot 53. */
    public static final class F53 extends HeadraceTableFactory {
        public F53() {
            super(53);
        }
    }

    /** Slot 54. */
    public static final class F54 extends HeadraceTableFactory {
        public F54() {
            super(54);
        }
    }

    /** Slot 55. */
    public static final class F55 extends HeadraceTableFactory {
        public F55() {
            super(55);
        }
    }

    /** Slot 56. */
    public static final class F56 extends HeadraceTableFactory {
        public F56() {
            super(56);
        }
    }

    /** Slot 57. */
    public static final class F57 extends HeadraceTableFactory {
        public F57() {
            super(57);
        }
    }

    /** Slot 58. */
    public static final class F58 extends HeadraceTableFactory {
        public F58() {
            super(58);
        }
    }

    /** Slot 59. */
    public static final class F59 extends HeadraceTableFactory {
        public F59() {
            super(59);
        }
    }

    /** Slot 60. */
    public static final class F60 extends HeadraceTableFactory {
        public F60() {
            super(60);
        }
    }

    /** Slot 61. */
    public static final class F61 extends HeadraceTableFactory {
        public F61() {
            super(61);
        }
    }

    /** Slot 62. */
    public static final class F62 extends HeadraceTableFactory {
        public F62() {
            super(62);
        }
    }

    /** Slot 63. */
    public static final class F63 extends HeadraceTableFactory {
        public F63() {
            super(63);
        }
    }

}
